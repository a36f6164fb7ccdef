// Command render renders a Helm chart the way `helm template` does, for tests on
// machines where Helm itself cannot be installed from the package registries CI
// reaches (Debian has no helm package; PyPI's "helm" is an unrelated program).
//
// It uses the engine Helm uses: Go's text/template with sprig's TxtFuncMap, plus
// Helm's own functions (include, tpl, required, fail, toYaml, fromYaml, toJson,
// fromJson, lookup, .Files.Get), the same built-in objects (.Values, .Release,
// .Chart, .Capabilities, .Template, .Files), values merged as Helm merges them
// (chart values.yaml, then each -f file, maps deep-merged, null deleting a key), and
// Helm's output layout ("---\n# Source: CHART/templates/NAME"). Templates whose
// name starts with "_" are partials; NOTES.txt is rendered to -notes.
//
// Differences from Helm that do not matter for this chart: no subcharts, no
// values.schema.json check (the test runs check-jsonschema on -dump-values), and
// `lookup` always finds nothing, as in `helm template`.
//
// Build (Debian: golang-go, golang-github-masterminds-sprig-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o render ./charts/test/render
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v3"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var valueFiles multi
	var sets multi
	name := flag.String("name", "wharf", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.33.0", "Capabilities.KubeVersion")
	apis := flag.String("api-versions", "", "extra Capabilities.APIVersions, comma-separated (e.g. cert-manager.io/v1)")
	dump := flag.String("dump-values", "", "write the merged values here as JSON")
	notes := flag.String("notes", "", "write the rendered NOTES.txt here")
	flag.Var(&valueFiles, "f", "values file (repeatable, later wins)")
	flag.Var(&sets, "set", "KEY.PATH=VALUE (repeatable; true, false, null and integers typed as with helm --set)")
	flag.Parse()
	if flag.NArg() != 1 {
		fatal("usage: render [flags] CHART_DIR")
	}
	chartDir := flag.Arg(0)

	chart := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	values := readYAML(filepath.Join(chartDir, "values.yaml"))
	for _, f := range valueFiles {
		values = merge(values, readYAML(f))
	}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			fatal("--set %q: want KEY=VALUE", s)
		}
		setPath(values, strings.Split(k, "."), v)
	}
	if *dump != "" {
		b, err := json.MarshalIndent(values, "", "  ")
		check(err)
		check(os.WriteFile(*dump, b, 0o644))
	}

	apiVersions := map[string]bool{"v1": true, "apps/v1": true, "policy/v1": true,
		"networking.k8s.io/v1": true, "admissionregistration.k8s.io/v1": true}
	for _, a := range strings.Split(*apis, ",") {
		if a != "" {
			apiVersions[a] = true
		}
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": *name, "Namespace": *namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart": chartObject(chart),
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": *kubeVersion, "GitVersion": *kubeVersion},
			"APIVersions": apiSet(apiVersions),
		},
		"Files": files{dir: chartDir},
	}

	tmplDir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(tmplDir)
	check(err)
	root := template.New("root")
	var names []string
	funcs := helmFuncs(root)
	root.Funcs(funcs)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		text, err := os.ReadFile(filepath.Join(tmplDir, e.Name()))
		check(err)
		full := fmt.Sprintf("%s/templates/%s", chartName(chart), e.Name())
		_, err = root.New(full).Option("missingkey=zero").Parse(string(text))
		check(err)
		names = append(names, full)
	}
	sort.Strings(names)
	var out bytes.Buffer
	for _, n := range names {
		base := filepath.Base(n)
		if strings.HasPrefix(base, "_") {
			continue
		}
		var buf bytes.Buffer
		data := withTemplate(top, n, chartName(chart))
		if err := root.ExecuteTemplate(&buf, n, data); err != nil {
			fatal("%v", err)
		}
		if base == "NOTES.txt" {
			if *notes != "" {
				check(os.WriteFile(*notes, buf.Bytes(), 0o644))
			}
			continue
		}
		text := strings.TrimSpace(buf.String())
		if text == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", n, text)
	}
	os.Stdout.Write(out.Bytes())
}

func withTemplate(top map[string]interface{}, name, chart string) map[string]interface{} {
	d := map[string]interface{}{}
	for k, v := range top {
		d[k] = v
	}
	d["Template"] = map[string]interface{}{"Name": name, "BasePath": chart + "/templates"}
	return d
}

// helmFuncs: sprig plus the functions Helm's engine adds (pkg/engine/funcs.go).
func helmFuncs(root *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = func(v interface{}) string {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return ""
		}
		return strings.TrimSuffix(buf.String(), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, fmt.Errorf("%s", msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", fmt.Errorf("%s", msg) }
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return buf.String(), err
	}
	return f
}

type apiSet map[string]bool

// Has is Capabilities.APIVersions.Has.
func (a apiSet) Has(v string) bool { return a[v] }

type files struct{ dir string }

// Get is .Files.Get: a file of the chart as a string ("" when missing).
func (f files) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		return ""
	}
	return string(b)
}

func chartObject(c map[string]interface{}) map[string]interface{} {
	o := map[string]interface{}{}
	for k, v := range c {
		o[strings.ToUpper(k[:1])+k[1:]] = v
	}
	return o
}

func chartName(c map[string]interface{}) string { return fmt.Sprint(c["name"]) }

func readYAML(path string) map[string]interface{} {
	b, err := os.ReadFile(path)
	check(err)
	m := map[string]interface{}{}
	check(yaml.Unmarshal(b, &m))
	return m
}

// merge: Helm's coalescing of a user's values over the chart's: maps merge, a null
// removes the key, anything else replaces.
func merge(base, over map[string]interface{}) map[string]interface{} {
	for k, v := range over {
		if v == nil {
			delete(base, k)
			continue
		}
		bm, ok1 := base[k].(map[string]interface{})
		om, ok2 := v.(map[string]interface{})
		if ok1 && ok2 {
			base[k] = merge(bm, om)
		} else {
			base[k] = v
		}
	}
	return base
}

func setPath(m map[string]interface{}, path []string, v string) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = typed(v)
}

// typed: helm --set's scalars (pkg/strvals): booleans, null and integers are typed,
// anything else stays a string.
func typed(v string) interface{} {
	switch v {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	return v
}

func check(err error) {
	if err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "render: "+format+"\n", args...)
	os.Exit(1)
}
