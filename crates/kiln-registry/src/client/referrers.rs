//! The OCI 1.1 referrers API: whether a registry serves it.

use kiln_core::{Digest, Reference, media_type};
use reqwest::StatusCode;
use reqwest::header::ACCEPT;

use super::{Client, media_type_of};
use crate::error::{Error, Op};
use crate::transport::Scopes;

impl Client {
    /// Whether the registry serves the OCI 1.1 referrers API for `repo`, asked as the
    /// distribution spec says clients must: `GET /v2/<name>/referrers/<subject>` answers an
    /// image index (empty when nothing refers to `subject`) where the API exists, and 404
    /// where it does not. A 200 that is not an index (a catch-all page), 400 or 405 also
    /// mean no.
    pub async fn supports_referrers(
        &self,
        repo: &Reference,
        subject: &Digest,
    ) -> Result<bool, Error> {
        let scopes = &Scopes::pull(&repo.repository);
        self.op(
            Op::Referrers,
            repo,
            Some(subject.to_string()),
            |ep, ctx| async move {
                let (ep, ctx) = (&*ep, &ctx);
                let url = ep.url(&format!("v2/{}/referrers/{subject}", repo.repository));
                let resp = self
                    .inner
                    .send(ep, scopes, &repo.repository, ctx, &mut |http| {
                        Ok(http.get(url.clone()).header(ACCEPT, media_type::OCI_INDEX))
                    })
                    .await?;
                match resp.status() {
                    StatusCode::OK => Ok(media_type_of(&resp) == media_type::OCI_INDEX),
                    // 404: no such route. Some registries answer an unknown route with 400 or
                    // 405 instead.
                    StatusCode::NOT_FOUND
                    | StatusCode::BAD_REQUEST
                    | StatusCode::METHOD_NOT_ALLOWED => Ok(false),
                    _ => Err(self.inner.error_for(resp, ctx).await),
                }
            },
        )
        .await
    }
}
