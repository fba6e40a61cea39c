//! Auditing at the HTTP edge: builds the audit event of one request from its request info, user
//! and response, and hands each stage to the [`Auditor`] queue.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Request, Response};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use super::authn::UserInfo;
use super::Body;
use crate::api::request_info::{RequestInfo, Verb};
use crate::audit::{
    micro_time_now, Auditor, Event, Level, ObjectReference, RequestAttributes, ResourceAttributes,
    ResponseStatus, SourceIp, Stage, API_VERSION, DECISION_ANNOTATION, KIND,
};

/// The audit record of one request in flight.
pub(crate) struct Recording {
    auditor: Arc<Auditor>,
    event: Event,
    omit: Vec<Stage>,
    watch: bool,
}

impl Recording {
    /// Evaluates the policy; `None` when the level is None. Writes RequestReceived.
    pub(crate) fn begin(
        auditor: &Arc<Auditor>,
        req: &Request<Bytes>,
        info: &RequestInfo,
        user: &UserInfo,
    ) -> Option<Recording> {
        let (verb, resource, path) = match info {
            RequestInfo::Resource(r) => (
                r.verb.as_str(),
                Some(ResourceAttributes {
                    group: &r.group,
                    resource: &r.resource,
                    subresource: r.subresource.as_deref(),
                    namespace: r.namespace.as_deref(),
                    name: r.name.as_deref(),
                }),
                "",
            ),
            RequestInfo::NonResource { verb, path } => (*verb, None, path.as_str()),
        };
        let attributes = RequestAttributes { user: &user.name, groups: &user.groups, verb, resource, path };
        let (level, omit) = auditor.policy().evaluate(&attributes);
        if level == Level::None {
            return None;
        }
        let object_ref = match info {
            RequestInfo::Resource(r) => Some(ObjectReference {
                resource: Some(r.resource.clone()),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                api_group: Some(r.group.clone()).filter(|g| !g.is_empty()),
                api_version: Some(r.version.clone()),
                subresource: r.subresource.clone(),
            }),
            RequestInfo::NonResource { .. } => None,
        };
        let writes = matches!(info, RequestInfo::Resource(r) if matches!(r.verb, Verb::Create | Verb::Update | Verb::Patch));
        let request_object = if level >= Level::Request && writes { body_value(req.body()) } else { None };
        let now = micro_time_now();
        let event = Event {
            kind: KIND.into(),
            api_version: API_VERSION.into(),
            level,
            audit_id: uuid::Uuid::from_u128(rand::random()).to_string(),
            stage: Stage::RequestReceived,
            request_uri: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().path().to_owned(), |p| p.to_string()),
            verb: verb.to_owned(),
            user: crate::audit::UserInfo {
                username: user.name.clone(),
                uid: user.uid.clone(),
                groups: user.groups.clone(),
            },
            source_ips: req.extensions().get::<SourceIp>().map(|s| vec![s.0.to_string()]).unwrap_or_default(),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            object_ref,
            response_status: None,
            request_object,
            response_object: None,
            request_received_timestamp: now.clone(),
            stage_timestamp: now,
            annotations: BTreeMap::new(),
        };
        let watch = matches!(info, RequestInfo::Resource(r) if r.verb == Verb::Watch);
        let recording = Recording { auditor: auditor.clone(), event, omit, watch };
        recording.emit(Stage::RequestReceived, recording.event.clone());
        Some(recording)
    }

    /// Records the authorization decision.
    pub(crate) fn decision(&mut self, allowed: bool) {
        let value = if allowed { "allow" } else { "forbid" };
        self.event.annotations.insert(DECISION_ANNOTATION.into(), value.into());
    }

    fn emit(&self, stage: Stage, mut event: Event) {
        if self.omit.contains(&stage) {
            return;
        }
        event.stage = stage;
        event.stage_timestamp = micro_time_now();
        self.auditor.emit(event);
    }

    /// Writes ResponseComplete (for a watch: ResponseStarted now, ResponseComplete when the
    /// stream ends) and gives the response back.
    pub(crate) async fn finish(mut self, response: Response<Body>) -> Response<Body> {
        let code = response.status().as_u16();
        if self.watch && code < 400 {
            self.event.response_status = Some(ResponseStatus { code, ..Default::default() });
            self.emit(Stage::ResponseStarted, self.event.clone());
            // The body's end (or the client going away) drops the guard: ResponseComplete.
            let guard = CompleteOnDrop(Some(self));
            return response.map(|body| {
                body.map_frame(move |frame| {
                    let _keep = &guard;
                    frame
                })
                .boxed_unsync()
            });
        }
        let (parts, body) = response.into_parts();
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(never) => match never {},
        };
        let value = serde_json::from_slice::<Value>(&bytes).ok();
        let text = |k: &str| value.as_ref().and_then(|v| v[k].as_str()).map(str::to_owned);
        self.event.response_status = Some(if code >= 400 {
            ResponseStatus {
                status: Some(text("status").unwrap_or_else(|| "Failure".into())),
                message: text("message"),
                reason: text("reason"),
                code,
                ..Default::default()
            }
        } else {
            ResponseStatus { code, ..Default::default() }
        });
        if self.event.level >= Level::RequestResponse {
            self.event.response_object = value;
        }
        self.emit(Stage::ResponseComplete, self.event.clone());
        Response::from_parts(parts, Full::new(bytes).boxed_unsync())
    }
}

struct CompleteOnDrop(Option<Recording>);

impl Drop for CompleteOnDrop {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.emit(Stage::ResponseComplete, r.event.clone());
        }
    }
}

/// A request body as JSON (YAML bodies are converted), when it parses.
fn body_value(body: &Bytes) -> Option<Value> {
    if body.is_empty() {
        return None;
    }
    serde_json::from_slice(body).ok().or_else(|| serde_yaml::from_slice(body).ok())
}
