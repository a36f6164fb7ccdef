//! The OpenID provider as Wharf sees it: its discovery document and keys (cached),
//! and the `openidconnect` client built from them. HTTP goes through reqwest with
//! redirects never followed (a provider's endpoints answer directly; following a
//! redirect would let one send Wharf's client secret elsewhere).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreClient, CoreJsonWebKeySet, CoreProviderMetadata};
use openidconnect::{
    AsyncHttpClient, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IssuerUrl, RedirectUrl,
};

use super::super::settings::OidcSettings;

/// The discovery document (and with it the keys) is fetched again after this long.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A token signed by a key Wharf does not know makes it fetch the keys again (the
/// provider rotated them), but not more often than this: a stream of forged tokens
/// with made-up key ids cannot make Wharf hammer the provider.
pub(super) const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Every request to the provider ends within this.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Discovery documents and key sets larger than this are refused.
const MAX_RESPONSE: usize = 1 << 20;

pub(super) type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Request(#[from] reqwest::Error),
    #[error("the response is larger than {MAX_RESPONSE} bytes")]
    TooLarge,
    #[error("{0}")]
    Http(#[from] openidconnect::http::Error),
}

/// reqwest as `openidconnect`'s HTTP client.
pub(super) struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut out = openidconnect::http::Response::builder().status(response.status());
            for (k, v) in response.headers() {
                out = out.header(k, v);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(out.body(body)?)
        })
    }
}

impl Http {
    pub(super) fn new(verify_cert: bool) -> Self {
        // reqwest is built without a default crypto provider; use ring, as wharf-oci does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Http(
            reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .connect_timeout(HTTP_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .danger_accept_invalid_certs(!verify_cert)
                .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
        )
    }
}

/// What discovery found, for one issuer and certificate setting.
pub(super) struct Discovered {
    pub endpoint: String,
    pub verify_cert: bool,
    pub metadata: CoreProviderMetadata,
    pub fetched: Instant,
    pub jwks_fetched: Instant,
}

/// The provider's discovery, cached; the keys refetched on rotation.
pub(super) struct Provider {
    verified: Http,
    unverified: Http,
    cached: tokio::sync::Mutex<Option<Arc<Discovered>>>,
}

impl Provider {
    pub(super) fn new() -> Self {
        Provider {
            verified: Http::new(true),
            unverified: Http::new(false),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    pub(super) fn http(&self, s: &OidcSettings) -> &Http {
        if s.verify_cert {
            &self.verified
        } else {
            &self.unverified
        }
    }

    /// The provider's metadata and keys: cached for [`DISCOVERY_TTL`] per issuer.
    pub(super) async fn discover(&self, s: &OidcSettings) -> Result<Arc<Discovered>, String> {
        let mut cached = self.cached.lock().await;
        if let Some(d) = cached.as_ref()
            && d.endpoint == s.endpoint
            && d.verify_cert == s.verify_cert
            && d.fetched.elapsed() < DISCOVERY_TTL
        {
            return Ok(d.clone());
        }
        let issuer = IssuerUrl::new(s.endpoint.clone()).map_err(|e| e.to_string())?;
        let metadata = CoreProviderMetadata::discover_async(issuer, self.http(s))
            .await
            .map_err(|e| format!("discovery at {}: {}", s.endpoint, error_chain(&e)))?;
        let now = Instant::now();
        let d = Arc::new(Discovered {
            endpoint: s.endpoint.clone(),
            verify_cert: s.verify_cert,
            metadata,
            fetched: now,
            jwks_fetched: now,
        });
        *cached = Some(d.clone());
        Ok(d)
    }

    /// Fetch the keys again after a token named one Wharf does not have; `None`
    /// when they were fetched less than [`JWKS_REFETCH_INTERVAL`] ago.
    pub(super) async fn refetch_keys(
        &self,
        s: &OidcSettings,
        seen: &Discovered,
    ) -> Result<Option<Arc<Discovered>>, String> {
        let mut cached = self.cached.lock().await;
        let current = match cached.as_ref() {
            // Another request already fetched them since `seen`.
            Some(d) if d.jwks_fetched > seen.jwks_fetched => return Ok(Some(d.clone())),
            Some(d) => d.clone(),
            None => return Ok(None),
        };
        if current.jwks_fetched.elapsed() < JWKS_REFETCH_INTERVAL {
            return Ok(None);
        }
        let url = current.metadata.jwks_uri().clone();
        let jwks = CoreJsonWebKeySet::fetch_async(&url, self.http(s))
            .await
            .map_err(|e| format!("keys at {}: {}", url.as_str(), error_chain(&e)))?;
        tracing::info!(issuer = %current.endpoint, keys = jwks.keys().len(), "fetched the OpenID provider's keys again");
        let d = Arc::new(Discovered {
            endpoint: current.endpoint.clone(),
            verify_cert: current.verify_cert,
            metadata: current.metadata.clone().set_jwks(jwks),
            fetched: current.fetched,
            jwks_fetched: Instant::now(),
        });
        *cached = Some(d.clone());
        Ok(Some(d))
    }

    /// Forget the discovery (the settings changed).
    pub(super) async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}

/// The client for these settings and this discovery.
pub(super) fn client(
    s: &OidcSettings,
    d: &Discovered,
    redirect_uri: &str,
) -> Result<Client, String> {
    let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| e.to_string())?;
    Ok(CoreClient::from_provider_metadata(
        d.metadata.clone(),
        ClientId::new(s.client_id.clone()),
        Some(ClientSecret::new(s.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

/// An error with its causes, for messages that say what went wrong.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
