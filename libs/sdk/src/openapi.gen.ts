/**
 * Generated from services/gateway/openapi.yaml by services/gateway/scripts/generate-api-types.mjs
 * (openapi-typescript). Do not edit: change the document and run
 * `npm run generate:api -w @wrenn/gateway`.
 */

export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Healthy or not, and nothing more (for load balancers)
         * @description The reasons (NATS, PostgreSQL, hosts) are in `GET /v1/health`, which needs an API key.
         */
        get: operations["health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** NATS, PostgreSQL and live hosts, with the reason per dependency */
        get: operations["healthDetails"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.yaml": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/docs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Swagger UI for this document */
        get: operations["docs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A test UI that exercises the API from a browser */
        get: operations["testUi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/signup": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Create a user and their own team
         * @description Answers 202 with the same body whether the email was new (the account is ready: log in
         *     for the token and ids) or already had an account (nothing changes), so signup tells no one
         *     which emails are registered. Limited per client address and per email in a sliding
         *     window, counted before the password is hashed (429 `rate_limited` with `Retry-After`).
         */
        post: operations["signup"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Exchange email and password for a bearer token
         * @description Attempts are limited in sliding windows per client address, per account from that address
         *     and per account overall (429 `rate_limited` with `Retry-After`). The client address is the
         *     socket's unless the operator trusts proxies (`WRENN_TRUST_PROXY`).
         */
        post: operations["login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The token's user and teams */
        get: operations["me"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/api-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The team's active keys (prefix and metadata only) */
        get: operations["listApiKeys"];
        put?: never;
        /** Create an API key for the token's team (the key is shown once) */
        post: operations["createApiKey"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/api-keys/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a key; it is refused from the next request on */
        delete: operations["revokeApiKey"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The team's sandboxes, newest first */
        get: operations["listSandboxes"];
        put?: never;
        /** Create a sandbox; answers once it runs */
        post: operations["createSandbox"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        /** One sandbox */
        get: operations["getSandbox"];
        put?: never;
        post?: never;
        /**
         * Delete a sandbox; answers as soon as the delete is accepted
         * @description The sandbox is `deleting` from the answer on (recorded as `sandbox.stop_requested`): its host tears it down in the background and it becomes `deleted` (`sandbox.stopped`) when the host has finished. Exec, files and other data-plane calls on a deleting sandbox answer 409 `sandbox_deleting`. A delete of a sandbox already deleting answers it again, changing nothing; of one already deleted, 409 `invalid_state`.
         */
        delete: operations["destroySandbox"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Snapshot a running sandbox and free its host resources
         * @description Answers the `paused` sandbox with `snapshot_ref` and `snapshot_size_bytes`. On the namespace
         *     runtime the snapshot is the filesystem: processes do not survive a pause.
         */
        post: operations["pauseSandbox"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Bring a paused sandbox back, same id and files, on the host holding its snapshot
         * @description 503 `host_unavailable` (nothing changed) while that host is not live. A failed resume
         *     leaves the sandbox `paused`; retry at will.
         */
        post: operations["resumeSandbox"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/ping": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Reset the sandbox's inactivity timer */
        post: operations["pingSandbox"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/network": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        /**
         * Replace the egress policy of a sandbox, live
         * @description The whole policy, replacing the one before (an omitted list is empty, an omitted `allow_internet_access` is true). On a running sandbox the host applies it first, in one transaction, and it meets the sandbox's next packet (connections already open included); a paused sandbox gets it at its resume; any other state answers 409 `invalid_state`. Recorded as `sandbox.network_changed`; the same policy again records nothing. A bad entry answers 400 `validation_failed` naming it, and nothing changes. E2B's `updateNetwork` (under `/e2b`) maps onto it.
         */
        put: operations["setSandboxNetwork"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/timeout": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Change the inactivity timeout of a sandbox
         * @description From now on the sandbox is paused after `timeout_sec` seconds without use (0 = never). The call counts as use, so the new timeout runs from now. Recorded as `sandbox.timeout_changed`; the same value again records nothing. A paused sandbox keeps the new timeout for after its resume; a deleting, deleted, failed or lost one answers 409 `invalid_state`. E2B's `setTimeout` (under `/e2b`) maps onto it.
         */
        post: operations["setSandboxTimeout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        /** CPU, memory, pids, OOM kills and disk of a running sandbox */
        get: operations["sandboxMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/exec": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Run a command to completion */
        post: operations["exec"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/exec/stream": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        /**
         * Interactive command over a WebSocket
         * @description Upgrade to a WebSocket (the API key goes in the upgrade request's `X-API-Key` header).
         *     Client frames (JSON text): first `{"type":"start","cmd","args","env","cwd","user","pty","cols","rows","timeout_sec"}`,
         *     then `{"type":"stdin","data":<base64>}` (or binary frames of raw stdin), `{"type":"resize","cols","rows"}`,
         *     `{"type":"signal","signal":"SIGTERM"|"SIGKILL"}`, `{"type":"eof"}`.
         *     Server frames: `{"type":"started","pid"}`, `{"type":"stdout"|"stderr","data":<base64>}`,
         *     `{"type":"exit","exit_code","timed_out"}` then close, or `{"type":"error","code","status","message"}`.
         */
        get: operations["execStream"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/files": {
        parameters: {
            query: {
                /** @description Absolute, or relative to the user's home. */
                path: components["parameters"]["FilePath"];
                user?: components["parameters"]["SandboxUser"];
            };
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        /** Download a file (streamed) */
        get: operations["download"];
        /** Upload the raw body to a path (streamed) */
        put: operations["uploadRaw"];
        /** Upload the first file part of a multipart body (streamed) */
        post: operations["uploadMultipart"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sandboxes/{id}/files/list": {
        parameters: {
            query: {
                /** @description Absolute, or relative to the user's home. */
                path: components["parameters"]["FilePath"];
                user?: components["parameters"]["SandboxUser"];
                depth?: number;
                /** @description Entries per page. Above the gateway's page maximum (`WRENN_LIST_DIR_PAGE_MAX`, 1000 by default), or absent, it is that maximum. */
                limit?: number;
                /** @description The `next_cursor` of the page before, as it came (opaque). A cursor of another path or depth is refused (400). */
                cursor?: string;
            };
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        /**
         * List a directory, a page at a time
         * @description Entries come in the order of their paths. Each page starts after the last path of the one before, so entries added or removed meanwhile shift nothing already seen.
         */
        get: operations["listFiles"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The team's templates, creating and ready */
        get: operations["listTemplates"];
        put?: never;
        /**
         * Freeze a running sandbox (which keeps running) into a named template on its host
         * @description A template is what new sandboxes start from (`template` of `POST /v1/sandboxes`): the
         *     built-in image `base`, or one frozen from a running sandbox with this call. Not to be
         *     confused with a paused sandbox's own snapshot (`snapshot_ref` of a sandbox).
         */
        post: operations["createTemplate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/templates/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: components["parameters"]["TemplateName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Delete a template and its files on its host
         * @description Refused with 409 `template_in_use` (details `sandbox_ids`) while any sandbox made from it is
         *     not deleted — paused ones included, since they resume on its files.
         */
        delete: operations["deleteTemplate"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/snapshots": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Deprecated name of `GET /v1/templates` (removed in the next release)
         * @deprecated
         * @description The templates under both `templates` and the deprecated key `snapshots`. Every answer
         *     carries `Deprecation: true` and `Link: </v1/templates>; rel="successor-version"`.
         */
        get: operations["listSnapshots"];
        put?: never;
        /**
         * Deprecated name of `POST /v1/templates` (removed in the next release)
         * @deprecated
         * @description The same call as `POST /v1/templates`. Every answer carries `Deprecation: true` and
         *     `Link: </v1/templates>; rel="successor-version"`.
         */
        post: operations["createSnapshot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/snapshots/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: components["parameters"]["TemplateName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Deprecated name of `DELETE /v1/templates/{name}` (removed in the next release)
         * @deprecated
         * @description The same call as `DELETE /v1/templates/{name}`. Every answer carries `Deprecation: true`
         *     and `Link: </v1/templates>; rel="successor-version"`.
         */
        delete: operations["deleteSnapshot"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The team's audit trail, newest first
         * @description Pass `next_cursor` back as `cursor` for the next (older) page.
         */
        get: operations["audit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The team's usage and cost in [from, to) */
        get: operations["usage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/quotas": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The team's quota limits and what it uses now
         * @description Limits come from the platform's defaults and the team's overrides. Usage is the scheduler's
         *     own count (the state its decisions read): running sandboxes with their vCPUs and memory
         *     (a pause under way counts as running and as paused), paused sandboxes and their snapshots,
         *     and creates accepted in the last 60 s. A create, pause or resume past a limit answers 429
         *     `quota_exceeded` naming the limit in `details`.
         */
        get: operations["quotas"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The team's events live, as Server-Sent Events
         * @description `id:` is the stream sequence, `event:` the event type, `data:` the JSON envelope with its
         *     data; `: heartbeat` comments keep the connection open. The stream starts after
         *     `Last-Event-ID` (which wins) or `after`, else from now.
         */
        get: operations["events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/sandboxes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * E2B list (v1), running sandboxes only
         * @description The same filters as `GET /e2b/v2/sandboxes` but `state`, which is always `running` here (400 if sent).
         */
        get: operations["e2bListRunningSandboxes"];
        put?: never;
        /** E2B create (older SDKs); same as `POST /e2b/v2/sandboxes` */
        post: operations["e2bCreateSandboxV1"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/v2/sandboxes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** E2B list; one page, no `x-next-token` */
        get: operations["e2bListSandboxes"];
        put?: never;
        /**
         * E2B create; answers once the sandbox runs
         * @description `templateID` is `base`, `<name>:default` or a Wrenn template's name. `timeout` (seconds) is
         *     Wrenn's inactivity timeout (default 300). `envVars` are set in the sandbox's envd. Options
         *     Wrenn cannot honour are refused with 400: transform `rules` or an `egressProxy` in
         *     `network`, `volumeMounts`, `mcp`. `allow_internet_access` and `network.allowOut` /
         *     `network.denyOut` become Wrenn's egress policy (`denyOut: ["0.0.0.0/0"]` is
         *     `allow_internet_access: false`). `metadata` is accepted and not stored.
         */
        post: operations["e2bCreateSandbox"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/sandboxes/{sandboxID}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        /** E2B sandbox info; 404 once deleting, deleted or failed */
        get: operations["e2bGetSandbox"];
        put?: never;
        post?: never;
        /** E2B kill */
        delete: operations["e2bKillSandbox"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/sandboxes/{sandboxID}/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        /** E2B metrics; one sample (empty while paused) */
        get: operations["e2bSandboxMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/sandboxes/{sandboxID}/timeout": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** E2B set timeout (seconds) */
        post: operations["e2bSetTimeout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/sandboxes/{sandboxID}/network": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        /**
         * E2B network update; Wrenn's PUT /v1/sandboxes/{id}/network
         * @description Replaces the whole egress configuration, live; omitted fields are cleared. `denyOut: ["0.0.0.0/0"]` is `allow_internet_access: false`. Transform `rules` and an `egressProxy` are refused (400). No body is `{}`: everything cleared.
         */
        put: operations["e2bUpdateNetwork"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/sandboxes/{sandboxID}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * E2B pause; 409 when already paused
         * @description Wrenn's pause (`POST /v1/sandboxes/{id}/pause`); on the namespace runtime the snapshot is the filesystem.
         */
        post: operations["e2bPauseSandbox"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/sandboxes/{sandboxID}/connect": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** E2B connect; same as `POST /e2b/v2/sandboxes/{sandboxID}/connect` */
        post: operations["e2bConnectV1"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/v2/sandboxes/{sandboxID}/connect": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * E2B connect; 200 with the access token when running, 201 after a resume
         * @description A paused sandbox is resumed first (Wrenn's `POST /v1/sandboxes/{id}/resume`), same id and
         *     files; `timeout` is 501 until changing a sandbox's timeout exists.
         */
        post: operations["e2bConnect"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/e2b/sandboxes/{sandboxID}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** E2B's legacy resume; same as connect */
        post: operations["e2bResume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Error: {
            error: {
                /** @enum {string} */
                code: "validation_failed" | "not_found" | "sandbox_not_found" | "template_not_found" | "template_exists" | "template_in_use" | "unauthorized" | "email_taken" | "rate_limited" | "quota_exceeded" | "forbidden" | "key_expired" | "too_many_streams" | "invalid_state" | "sandbox_deleting" | "sandbox_exists" | "concurrency_conflict" | "no_host_available" | "host_full" | "host_unavailable" | "host_timeout" | "host_operation_failed" | "exec_timeout" | "file_not_found" | "permission_denied" | "sandbox_unavailable" | "insufficient_storage" | "projection_lag" | "service_unavailable" | "not_implemented" | "internal";
                message: string;
                details?: {
                    [key: string]: unknown;
                };
            };
        };
        E2bError: {
            /** @description The HTTP status (what E2B's SDKs branch on). */
            code: number;
            message: string;
            /**
             * @description Wrenn's error code, for humans and logs.
             * @enum {string}
             */
            reason?: "validation_failed" | "not_found" | "sandbox_not_found" | "template_not_found" | "template_exists" | "template_in_use" | "unauthorized" | "email_taken" | "rate_limited" | "quota_exceeded" | "forbidden" | "key_expired" | "too_many_streams" | "invalid_state" | "sandbox_deleting" | "sandbox_exists" | "concurrency_conflict" | "no_host_available" | "host_full" | "host_unavailable" | "host_timeout" | "host_operation_failed" | "exec_timeout" | "file_not_found" | "permission_denied" | "sandbox_unavailable" | "insufficient_storage" | "projection_lag" | "service_unavailable" | "not_implemented" | "internal";
        };
        HealthStatus: {
            /** @enum {unknown} */
            status: "ok" | "degraded";
        };
        Health: {
            /** @enum {unknown} */
            status: "ok" | "degraded";
            nats: components["schemas"]["HealthCheck"];
            postgres: components["schemas"]["HealthCheck"];
            hosts: {
                /** @description Hosts whose last heartbeat is recent. */
                live: number;
                items: {
                    id: string;
                    live: boolean;
                    /** @enum {string} */
                    runtime: "namespace" | "firecracker";
                    sandboxes: number;
                    last_seen_ms_ago: number;
                }[];
            };
        };
        HealthCheck: {
            ok: boolean;
            /** @description When it answered. */
            latency_ms?: number;
            /** @description Why it did not. */
            error?: string;
        };
        Credentials: {
            /** Format: email */
            email: string;
            /** @description At least 8 characters. */
            password: string;
        };
        LoginCredentials: {
            /** Format: email */
            email: string;
            /** @description Any length at login: a wrong password is 401, not 400. */
            password: string;
        };
        SignupResult: {
            email: string;
            /** @constant */
            status: "accepted";
            message: string;
        };
        LoginResult: {
            token: string;
            /** @constant */
            token_type: "Bearer";
            /** @description Seconds. */
            expires_in: number;
            user_id: string;
            team_id: string;
        };
        Me: {
            user_id: string;
            email: string;
            /** Format: date-time */
            created_at: string;
            /** @description The team this token acts for. */
            team_id: string;
            teams: {
                team_id?: string;
                name?: string;
                role?: string;
            }[];
        };
        CreateApiKey: {
            /**
             * @description No control characters.
             * @default default
             */
            name?: string;
            scope?: components["schemas"]["ApiKeyScope"];
            /**
             * Format: date-time
             * @description When the key stops working (401 `key_expired` from then on); in the future. Absent = never.
             */
            expires_at?: string;
        };
        /**
         * @description `full`: every call an API key may make. `read_only`: GET calls only (not the exec
         *     WebSocket). `sandbox`: `/v1/sandboxes/…` (exec and files included) and `/e2b/…` only.
         *     A call outside the scope answers 403 `forbidden`.
         * @default full
         * @enum {string}
         */
        ApiKeyScope: "full" | "sandbox" | "read_only";
        ApiKey: {
            id: string;
            name: string;
            /** @description The first 12 characters of the key, e.g. wrn_Ab3dEf9h. */
            prefix: string;
            team_id: string;
            created_by: string;
            /** Format: date-time */
            created_at: string;
            scope: components["schemas"]["ApiKeyScope"];
            /** Format: date-time */
            expires_at: string | null;
        };
        CreatedApiKey: components["schemas"]["ApiKey"] & {
            key: string;
        };
        /** @enum {string} */
        SandboxState: "pending" | "starting" | "running" | "pausing" | "paused" | "resuming" | "deleting" | "deleted" | "failed" | "lost";
        CreateSandbox: {
            /**
             * @description `base` or a template of the team (`GET /v1/templates`).
             * @default base
             */
            template?: string;
            /** @default 1 */
            vcpus?: number;
            /** @default 512 */
            memory_mb?: number;
            /** @description The sandbox's disk in MiB, enforced by the kernel (ENOSPC inside when full). Omitted: the host's default (4096). */
            disk_mb?: number;
            /** @default 0 */
            timeout_sec?: number;
            /** @description Egress rules; see NetworkPolicy. */
            network?: {
                allow_out?: components["schemas"]["EgressList"];
                deny_out?: components["schemas"]["EgressList"];
            };
            /**
             * @description false refuses everything outside `network.allow_out` (the DNS resolvers stay open).
             * @default true
             */
            allow_internet_access?: boolean;
        };
        /** @description IPv4 addresses, IPv4 CIDRs or domain names (resolved by the host each time the policy is applied). IPv6 is refused; sandboxes have none. */
        EgressList: string[];
        /** @description A sandbox's egress policy. First match wins - `deny_out`, then `allow_out` (and the operator's allowlist), then the host's DNS resolvers on port 53, then the defaults: the public internet allowed; link-local (metadata), loopback, RFC 1918, CGNAT, other sandboxes and the host itself refused. `allow_out` may open a private address; the host's own addresses are never reachable. */
        NetworkPolicy: {
            allow_out?: components["schemas"]["EgressList"];
            deny_out?: components["schemas"]["EgressList"];
            /** @default true */
            allow_internet_access?: boolean;
        };
        Sandbox: {
            id: string;
            state: components["schemas"]["SandboxState"];
            /** @description `base` or the template it was made from. */
            template: string;
            /** @description Set for sandboxes made from a template frozen from a sandbox (not `base`). */
            template_id: string | null;
            vcpus: number;
            memory_mb: number;
            /** @description Inactivity before the sandbox is paused; 0 never. */
            timeout_sec: number;
            network: WithRequired<components["schemas"]["NetworkPolicy"], "allow_out" | "deny_out" | "allow_internet_access">;
            host_id: string | null;
            failure_reason: string | null;
            /** @description While paused */
            snapshot_ref: string | null;
            /** @description While paused */
            snapshot_size_bytes: number | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
        };
        Exec: {
            cmd: string;
            /** @default [] */
            args?: string[];
            env?: {
                [key: string]: string;
            };
            cwd?: string;
            user?: string;
            /** @default 60 */
            timeout_sec?: number;
        };
        ExecResult: {
            stdout: string;
            stderr: string;
            exit_code: number;
            timed_out: boolean;
            truncated: boolean;
            duration_ms: number;
        };
        Metrics: {
            cpu_usage_usec: number;
            memory_bytes: number;
            memory_limit_bytes: number;
            pids: number;
            oom_kills: number;
            disk_bytes: number;
            vcpus: number;
            memory_mb: number;
        };
        DirEntry: {
            name: string;
            path: string;
            type: string;
            size: number;
            mode: number;
            /** Format: date-time */
            modified_at: string;
            symlink_target?: string;
        };
        CreateTemplate: {
            /** @description A running sandbox of the team. */
            sandbox_id: string;
            /** @description Unique in the team; not `base`. */
            name: string;
        };
        Template: {
            id: string;
            name: string;
            /** @enum {string} */
            state: "creating" | "ready" | "failed" | "deleted";
            /** @description The sandbox it was frozen from. */
            sandbox_id: string;
            /** @description The host holding its files; sandboxes from it run there. */
            host_id: string;
            /** @description Sandboxes from the template get exactly these. */
            vcpus: number;
            memory_mb: number;
            size_bytes: number | null;
            /** Format: date-time */
            created_at: string;
        };
        TemplateList: {
            templates: components["schemas"]["Template"][];
        };
        DeprecatedSnapshotList: {
            templates: components["schemas"]["Template"][];
            /**
             * @deprecated
             * @description The same list under its old key; read `templates`.
             */
            snapshots: components["schemas"]["Template"][];
        };
        AuditEntry: {
            /** @description Stream sequence. */
            seq: number;
            event_id: string;
            /** @example sandbox.started */
            type: string;
            /** @description The resource's version after this event. */
            version: number;
            resource: {
                type: string;
                id: string;
            };
            actor: {
                kind: string;
                id: string;
            };
            team_id: string;
            correlation_id: string;
            causation_id: string;
            /** Format: date-time */
            occurred_at: string;
        };
        AuditPage: {
            entries: components["schemas"]["AuditEntry"][];
            /** @description Pass as `cursor` for the next page; null on the last. */
            next_cursor: string | null;
        };
        Usage: {
            team_id: string;
            /** Format: date-time */
            from: string;
            /** Format: date-time */
            to: string;
            /** @description Exact integers as decimal strings (they outgrow JSON numbers), and the same in hours. */
            usage: {
                vcpu_ms: string;
                memory_mib_ms: string;
                storage_byte_ms: string;
                vcpu_hours: string;
                memory_gib_hours: string;
                storage_gib_hours: string;
            };
            prices: {
                /** @constant */
                currency: "USD";
                vcpu_hour_micro_usd: number;
                memory_gib_hour_micro_usd: number;
                storage_gib_hour_micro_usd: number;
            };
            cost: {
                /** @constant */
                currency: "USD";
                compute_cents: number;
                memory_cents: number;
                storage_cents: number;
                total_cents: number;
            };
        };
        QuotaFigures: {
            running_sandboxes: number;
            vcpus: number;
            memory_mb: number;
            paused_sandboxes: number;
            snapshot_bytes: number;
            creates_per_minute: number;
        };
        Quotas: {
            limits: components["schemas"]["QuotaFigures"];
            usage: components["schemas"]["QuotaFigures"];
        };
        E2bNewSandbox: {
            templateID: string;
            /** @description Seconds of inactivity; default 300. */
            timeout?: number;
            metadata?: {
                [key: string]: string;
            };
            envVars?: {
                [key: string]: string;
            };
            autoPause?: boolean;
            autoPauseMemory?: boolean;
            secure?: boolean;
            /** @description false refuses everything outside network.allowOut. */
            allow_internet_access?: boolean;
            /** @description Accepted */
            autoResume?: unknown;
            /** @description allowOut and denyOut become the egress policy; transform rules and an egress proxy are refused (400). */
            network?: {
                allowOut?: string[];
                denyOut?: string[];
                /** @description Refused (400) unless empty. */
                rules?: Record<string, never>;
                /** @description Refused (400). */
                egressProxy?: Record<string, never>;
            };
            /** @description Refused (400). */
            mcp?: unknown;
            /** @description Accepted */
            iam?: unknown;
            /** @description Refused (400). */
            volumeMounts?: unknown;
        };
        E2bSandbox: {
            templateID: string;
            sandboxID: string;
            alias?: string;
            clientID: string;
            /** @description What the SDK enables features by; Wrenn answers 0.5.7. */
            envdVersion: string;
            /** @description Sent back as `X-Access-Token` to the envd proxy. */
            envdAccessToken: string;
            trafficAccessToken: null;
            domain: null;
        };
        E2bListedSandbox: {
            templateID: string;
            alias?: string;
            sandboxID: string;
            clientID: string;
            /** Format: date-time */
            startedAt: string;
            /**
             * Format: date-time
             * @description The last change plus the timeout.
             */
            endAt: string;
            cpuCount: number;
            memoryMB: number;
            diskSizeMB: number;
            metadata: {
                [key: string]: string;
            };
            /** @enum {string} */
            state: "running" | "paused";
            envdVersion: string;
            volumeMounts: unknown[];
        };
        E2bSandboxDetail: components["schemas"]["E2bListedSandbox"] & {
            envdAccessToken: string;
            domain: null;
            allowInternetAccess: boolean | null;
            lifecycle: {
                autoResume: boolean;
                /** @enum {string} */
                onTimeout: "kill" | "pause";
            };
        };
        E2bSandboxMetric: {
            /** Format: date-time */
            timestamp: string;
            timestampUnix: number;
            cpuCount: number;
            /** @description Average since start. */
            cpuUsedPct: number;
            memUsed: number;
            memTotal: number;
            memCache: number;
            diskUsed: number;
            diskTotal: number;
        };
    };
    responses: {
        /** @description The input is not valid (`validation_failed`). */
        BadRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Missing, invalid, revoked or expired credentials (`unauthorized`; `key_expired` for an API key past its `expires_at`). */
        Unauthorized: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description No such thing for this team (`sandbox_not_found`, `not_found`, `file_not_found`, `template_not_found`). */
        NotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description The state does not allow it (`invalid_state`, `sandbox_deleting`, `email_taken`, `concurrency_conflict`, …). */
        Conflict: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description The name is taken (or is `base`) (`template_exists`), or the sandbox is not running (`invalid_state`). */
        TemplateConflict: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Too many attempts (`rate_limited`). */
        RateLimited: {
            headers: {
                /** @description Seconds until the next attempt is counted again. */
                "Retry-After"?: number;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /**
         * @description A team quota was hit (`quota_exceeded`); nothing was changed. `details` names the limit:
         *     `{limit: running_sandboxes | vcpus | memory_mb | paused_sandboxes | snapshot_bytes |
         *     creates_per_minute, max, current, operation: create | pause | resume}`.
         */
        QuotaExceeded: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /**
         * @description A service or host is not available (`no_host_available`, `service_unavailable`), or every host
         *     that could take the sandbox is full (`host_full`; `details.resource`: `memory` or `sandboxes`).
         */
        Unavailable: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description The host could not do it (`host_operation_failed`, `sandbox_unavailable`); nothing was left half-done. */
        HostFailed: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description The host or the read model did not answer in time (`host_timeout`; `projection_lag`, the change was accepted). */
        TimedOut: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description The input is not valid, or asks for what Wrenn does not offer (reason `validation_failed`). */
        E2bBadRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["E2bError"];
            };
        };
        /** @description Missing, invalid or revoked API key (reason `unauthorized`). */
        E2bUnauthorized: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["E2bError"];
            };
        };
        /** @description No such sandbox or template for this team, or it is stopped (reason `sandbox_not_found`, `template_not_found`, `not_found`). */
        E2bNotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["E2bError"];
            };
        };
        /** @description The state does not allow it (reason `invalid_state`, `concurrency_conflict`). */
        E2bConflict: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["E2bError"];
            };
        };
        /** @description Not offered by this build (reason `not_implemented`). */
        E2bNotImplemented: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["E2bError"];
            };
        };
        /** @description No host, every host full, the host failed, or it timed out (reason `no_host_available`, `host_full`, `host_operation_failed`, `host_timeout`, …). */
        E2bServerError: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["E2bError"];
            };
        };
        /** @description Written. */
        Written: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": {
                    path: string;
                    size: number;
                };
            };
        };
    };
    parameters: {
        SandboxId: string;
        ApiKeyId: string;
        /** @description Absolute, or relative to the user's home. */
        FilePath: string;
        SandboxUser: string;
        TemplateName: string;
        E2bSandboxId: string;
        E2bLimit: number;
        /** @description Accepted; every list is one page. */
        E2bNextToken: string;
        /** @description URL-encoded `key=value` pairs. Metadata is not stored, so a list filtered by it answers 400. */
        E2bMetadata: string;
        /** @description Only sandboxes started after this time. */
        E2bStartedAfter: string;
        /** @description Only sandboxes of this template (an E2B template id, as `templateID` at create). */
        E2bTemplate: string;
        /** @description By start time; newest first (`desc`) when left out. */
        E2bOrder: "asc" | "desc";
        /** @description Carried on every event the call causes. */
        CorrelationId: string;
    };
    requestBodies: {
        E2bNewSandbox: {
            content: {
                "application/json": components["schemas"]["E2bNewSandbox"];
            };
        };
        E2bConnect: {
            content: {
                "application/json": {
                    /** @description Seconds. */
                    timeout?: number;
                    /** @description false resumes from the filesystem snapshot. */
                    memory?: boolean;
                    /** @description Older SDKs' resume body. */
                    autoPause?: boolean;
                };
            };
        };
    };
    headers: {
        /** @description The route is deprecated and goes away in the next release. */
        Deprecation: "true";
        /** @description The route to use instead: `</v1/templates>; rel="successor-version"`. */
        SuccessorLink: string;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Healthy. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthStatus"];
                };
            };
            /** @description Degraded. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthStatus"];
                };
            };
        };
    };
    healthDetails: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Healthy. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description Degraded (with the reason per dependency). */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI 3.1 document. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/yaml": string;
                };
            };
        };
    };
    docs: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTML page. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    testUi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTML page. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    signup: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["Credentials"];
            };
        };
        responses: {
            /** @description Accepted (new or taken email alike). */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SignupResult"];
                };
            };
            400: components["responses"]["BadRequest"];
            429: components["responses"]["RateLimited"];
        };
    };
    login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginCredentials"];
            };
        };
        responses: {
            /** @description A token. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LoginResult"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            429: components["responses"]["RateLimited"];
        };
    };
    me: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Me"];
                };
            };
            401: components["responses"]["Unauthorized"];
        };
    };
    listApiKeys: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Keys, newest first. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        api_keys: components["schemas"]["ApiKey"][];
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
        };
    };
    createApiKey: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["CreateApiKey"];
            };
        };
        responses: {
            /** @description Created; `key` is never shown again. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreatedApiKey"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
        };
    };
    revokeApiKey: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                id: components["parameters"]["ApiKeyId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Revoked. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        /** @constant */
                        revoked: true;
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
        };
    };
    listSandboxes: {
        parameters: {
            query?: {
                state?: components["schemas"]["SandboxState"];
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Sandboxes. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        sandboxes: components["schemas"]["Sandbox"][];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
        };
    };
    createSandbox: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["CreateSandbox"];
            };
        };
        responses: {
            /** @description The running (or failed) sandbox. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Sandbox"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["QuotaExceeded"];
            503: components["responses"]["Unavailable"];
        };
    };
    getSandbox: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The sandbox. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Sandbox"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
        };
    };
    destroySandbox: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The sandbox, `deleting` (or `deleted` when its host had nothing left to do). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Sandbox"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
        };
    };
    pauseSandbox: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The paused sandbox. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Sandbox"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["QuotaExceeded"];
            502: components["responses"]["HostFailed"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["TimedOut"];
        };
    };
    resumeSandbox: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The running sandbox. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Sandbox"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["QuotaExceeded"];
            502: components["responses"]["HostFailed"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["TimedOut"];
        };
    };
    pingSandbox: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The sandbox. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Sandbox"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
        };
    };
    setSandboxNetwork: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["NetworkPolicy"];
            };
        };
        responses: {
            /** @description The sandbox with its new `network`. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Sandbox"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            503: components["responses"]["Unavailable"];
        };
    };
    setSandboxTimeout: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    timeout_sec: number;
                };
            };
        };
        responses: {
            /** @description The sandbox with its new `timeout_sec`. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Sandbox"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
        };
    };
    sandboxMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Metrics. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Metrics"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
        };
    };
    exec: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["Exec"];
            };
        };
        responses: {
            /** @description Its output (capped at 1 MiB per stream) and exit code. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExecResult"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
        };
    };
    execStream: {
        parameters: {
            query?: never;
            header: {
                Upgrade: "websocket";
            };
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching protocols. */
            101: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
        };
    };
    download: {
        parameters: {
            query: {
                /** @description Absolute, or relative to the user's home. */
                path: components["parameters"]["FilePath"];
                user?: components["parameters"]["SandboxUser"];
            };
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The file's bytes. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
        };
    };
    uploadRaw: {
        parameters: {
            query: {
                /** @description Absolute, or relative to the user's home. */
                path: components["parameters"]["FilePath"];
                user?: components["parameters"]["SandboxUser"];
            };
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            200: components["responses"]["Written"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
        };
    };
    uploadMultipart: {
        parameters: {
            query: {
                /** @description Absolute, or relative to the user's home. */
                path: components["parameters"]["FilePath"];
                user?: components["parameters"]["SandboxUser"];
            };
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/form-data": {
                    file?: string;
                };
            };
        };
        responses: {
            200: components["responses"]["Written"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
        };
    };
    listFiles: {
        parameters: {
            query: {
                /** @description Absolute, or relative to the user's home. */
                path: components["parameters"]["FilePath"];
                user?: components["parameters"]["SandboxUser"];
                depth?: number;
                /** @description Entries per page. Above the gateway's page maximum (`WRENN_LIST_DIR_PAGE_MAX`, 1000 by default), or absent, it is that maximum. */
                limit?: number;
                /** @description The `next_cursor` of the page before, as it came (opaque). A cursor of another path or depth is refused (400). */
                cursor?: string;
            };
            header?: never;
            path: {
                id: components["parameters"]["SandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of entries. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        entries: components["schemas"]["DirEntry"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
        };
    };
    listTemplates: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Templates. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TemplateList"];
                };
            };
            401: components["responses"]["Unauthorized"];
        };
    };
    createTemplate: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateTemplate"];
            };
        };
        responses: {
            /** @description The template. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["TemplateConflict"];
            502: components["responses"]["HostFailed"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["TimedOut"];
        };
    };
    deleteTemplate: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                name: components["parameters"]["TemplateName"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The deleted template. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            502: components["responses"]["HostFailed"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["TimedOut"];
        };
    };
    listSnapshots: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Templates. */
            200: {
                headers: {
                    Deprecation: components["headers"]["Deprecation"];
                    Link: components["headers"]["SuccessorLink"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeprecatedSnapshotList"];
                };
            };
            401: components["responses"]["Unauthorized"];
        };
    };
    createSnapshot: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateTemplate"];
            };
        };
        responses: {
            /** @description The template. */
            201: {
                headers: {
                    Deprecation: components["headers"]["Deprecation"];
                    Link: components["headers"]["SuccessorLink"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["TemplateConflict"];
            502: components["responses"]["HostFailed"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["TimedOut"];
        };
    };
    deleteSnapshot: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                name: components["parameters"]["TemplateName"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The deleted template. */
            200: {
                headers: {
                    Deprecation: components["headers"]["Deprecation"];
                    Link: components["headers"]["SuccessorLink"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            502: components["responses"]["HostFailed"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["TimedOut"];
        };
    };
    audit: {
        parameters: {
            query?: {
                /** @description Aggregate kind (sandbox, template, team, …). */
                resource_type?: string;
                resource_id?: string;
                /** @description Inclusive lower bound on `occurred_at`. */
                from?: string;
                /** @description Exclusive upper bound on `occurred_at`. */
                to?: string;
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of entries. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
        };
    };
    usage: {
        parameters: {
            query?: {
                /** @description Inclusive; default the start of the current UTC month. */
                from?: string;
                /** @description Exclusive; default now. */
                to?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Usage, prices and cost. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Usage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
        };
    };
    quotas: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Limits and usage. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Quotas"];
                };
            };
            401: components["responses"]["Unauthorized"];
        };
    };
    events: {
        parameters: {
            query?: {
                /** @description Stream sequence of the last event seen. */
                after?: string;
            };
            header?: {
                /** @description Sent by a reconnecting EventSource. */
                "Last-Event-ID"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description An endless event stream. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
        };
    };
    e2bListRunningSandboxes: {
        parameters: {
            query?: {
                limit?: components["parameters"]["E2bLimit"];
                /** @description Accepted; every list is one page. */
                nextToken?: components["parameters"]["E2bNextToken"];
                /** @description URL-encoded `key=value` pairs. Metadata is not stored, so a list filtered by it answers 400. */
                metadata?: components["parameters"]["E2bMetadata"];
                /** @description Only sandboxes started after this time. */
                startedAfter?: components["parameters"]["E2bStartedAfter"];
                /** @description Only sandboxes of this template (an E2B template id, as `templateID` at create). */
                template?: components["parameters"]["E2bTemplate"];
                /** @description By start time; newest first (`desc`) when left out. */
                order?: components["parameters"]["E2bOrder"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Sandboxes, newest first. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bListedSandbox"][];
                };
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
        };
    };
    e2bCreateSandboxV1: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["E2bNewSandbox"];
        responses: {
            /** @description The running sandbox and its envd access token. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandbox"];
                };
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            502: components["responses"]["E2bServerError"];
            503: components["responses"]["E2bServerError"];
            504: components["responses"]["E2bServerError"];
        };
    };
    e2bListSandboxes: {
        parameters: {
            query?: {
                /** @description Comma-separated E2B states (`running`, `paused`); default both. Another state is 400. */
                state?: string;
                limit?: components["parameters"]["E2bLimit"];
                /** @description Accepted; every list is one page. */
                nextToken?: components["parameters"]["E2bNextToken"];
                /** @description URL-encoded `key=value` pairs. Metadata is not stored, so a list filtered by it answers 400. */
                metadata?: components["parameters"]["E2bMetadata"];
                /** @description Only sandboxes started after this time. */
                startedAfter?: components["parameters"]["E2bStartedAfter"];
                /** @description Only sandboxes of this template (an E2B template id, as `templateID` at create). */
                template?: components["parameters"]["E2bTemplate"];
                /** @description By start time; newest first (`desc`) when left out. */
                order?: components["parameters"]["E2bOrder"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Sandboxes, newest first. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bListedSandbox"][];
                };
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
        };
    };
    e2bCreateSandbox: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["E2bNewSandbox"];
        responses: {
            /** @description The running sandbox and its envd access token. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandbox"];
                };
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            502: components["responses"]["E2bServerError"];
            503: components["responses"]["E2bServerError"];
            504: components["responses"]["E2bServerError"];
        };
    };
    e2bGetSandbox: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The sandbox. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandboxDetail"];
                };
            };
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
        };
    };
    e2bKillSandbox: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Destroyed. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            409: components["responses"]["E2bConflict"];
            502: components["responses"]["E2bServerError"];
            503: components["responses"]["E2bServerError"];
            504: components["responses"]["E2bServerError"];
        };
    };
    e2bSandboxMetrics: {
        parameters: {
            query?: {
                /** @description Unix seconds; accepted, not used. */
                start?: number;
                /** @description Unix seconds; accepted, not used. */
                end?: number;
            };
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Samples. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandboxMetric"][];
                };
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            409: components["responses"]["E2bConflict"];
            502: components["responses"]["E2bServerError"];
        };
    };
    e2bSetTimeout: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    timeout: number;
                };
            };
        };
        responses: {
            /** @description Changed. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            501: components["responses"]["E2bNotImplemented"];
        };
    };
    e2bUpdateNetwork: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": {
                    allow_internet_access?: boolean;
                    /** @description Entries as in Wrenn's `allow_out`; a bad one is 400. */
                    allowOut?: string[];
                    /** @description Entries as in Wrenn's `deny_out`; `0.0.0.0/0` is `allow_internet_access: false`. */
                    denyOut?: string[];
                    /** @description Refused (400) unless empty. */
                    rules?: {
                        [key: string]: unknown;
                    };
                    /** @description Refused (400). */
                    egressProxy?: {
                        [key: string]: unknown;
                    };
                };
            };
        };
        responses: {
            /** @description Applied. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            409: components["responses"]["E2bConflict"];
        };
    };
    e2bPauseSandbox: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": {
                    /** @description false keeps the filesystem only. */
                    memory?: boolean;
                };
            };
        };
        responses: {
            /** @description Paused. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            409: components["responses"]["E2bConflict"];
            502: components["responses"]["E2bServerError"];
            503: components["responses"]["E2bServerError"];
            504: components["responses"]["E2bServerError"];
        };
    };
    e2bConnectV1: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        requestBody?: components["requestBodies"]["E2bConnect"];
        responses: {
            /** @description The sandbox was running; its access token. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandbox"];
                };
            };
            /** @description The sandbox was resumed; its access token. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandbox"];
                };
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            409: components["responses"]["E2bConflict"];
            501: components["responses"]["E2bNotImplemented"];
            502: components["responses"]["E2bServerError"];
            503: components["responses"]["E2bServerError"];
            504: components["responses"]["E2bServerError"];
        };
    };
    e2bConnect: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        requestBody?: components["requestBodies"]["E2bConnect"];
        responses: {
            /** @description The sandbox was running; its access token. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandbox"];
                };
            };
            /** @description The sandbox was resumed; its access token. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandbox"];
                };
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            409: components["responses"]["E2bConflict"];
            501: components["responses"]["E2bNotImplemented"];
            502: components["responses"]["E2bServerError"];
            503: components["responses"]["E2bServerError"];
            504: components["responses"]["E2bServerError"];
        };
    };
    e2bResume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Carried on every event the call causes. */
                "X-Correlation-Id"?: components["parameters"]["CorrelationId"];
            };
            path: {
                sandboxID: components["parameters"]["E2bSandboxId"];
            };
            cookie?: never;
        };
        requestBody?: components["requestBodies"]["E2bConnect"];
        responses: {
            /** @description The sandbox was running; its access token. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandbox"];
                };
            };
            /** @description The sandbox was resumed; its access token. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["E2bSandbox"];
                };
            };
            400: components["responses"]["E2bBadRequest"];
            401: components["responses"]["E2bUnauthorized"];
            404: components["responses"]["E2bNotFound"];
            409: components["responses"]["E2bConflict"];
            501: components["responses"]["E2bNotImplemented"];
            502: components["responses"]["E2bServerError"];
            503: components["responses"]["E2bServerError"];
            504: components["responses"]["E2bServerError"];
        };
    };
}
type WithRequired<T, K extends keyof T> = T & {
    [P in K]-?: T[P];
};
