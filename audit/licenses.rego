package wharf

# Licence IDs (and SPDX exceptions) a dependency of Wharf may carry: permissive licences
# compatible with shipping Wharf under Apache-2.0.
allowed := {
	"0BSD", "Apache-2.0", "BSD-1-Clause", "BSD-2-Clause", "BSD-3-Clause", "BSL-1.0",
	"CC0-1.0", "CDLA-Permissive-2.0", "ISC", "LLVM-exception", "MIT", "MIT-0",
	"Unicode-3.0", "Unicode-DFS-2016", "Unlicense", "Zlib",
}

# The IDs of one alternative: parentheses, AND and WITH are dropped.
ids(alternative) := {id |
	some id in regex.split(`[\s()]+`, alternative)
	id != ""
	id != "AND"
	id != "WITH"
}

# An expression is acceptable when one of its top-level alternatives (`OR`, or the old
# `/` separator) uses allowed IDs only. Parentheses are not nested: `(A OR B) AND C`
# is read as `A` or `B AND C`, which is strict enough for what crates declare.
acceptable(expression) if {
	some alternative in regex.split(`\s+OR\s+|\s*/\s*`, expression)
	every id in ids(alternative) {
		id in allowed
	}
}

deny contains msg if {
	some pkg in input.sbom.packages
	count(pkg.licenses) == 0
	msg := sprintf("%s %s declares no licence", [pkg.name, pkg.version])
}

deny contains msg if {
	some pkg in input.sbom.packages
	some expression in pkg.licenses
	not acceptable(expression)
	msg := sprintf("%s %s: licence %q is not allowed (audit/licenses.rego)", [pkg.name, pkg.version, expression])
}
