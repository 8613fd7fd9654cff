// Type declarations for require("geppetto") as hosted by the Python geppetto runtime
// (`geppetto js run`). Scripts written for the reference Go host run unchanged; names that say
// "Go" mean "the host" here, and Host-named aliases are offered next to them.
//
// A test (tests/jsapi/test_jsapi_dts.py) checks this file against the real module: every export,
// namespace member and method declared here exists, and nothing that exists is missing here.

declare module "geppetto" {
  // ------------------------------------------------------------------------------ turns
  /** A block of a turn, in the reference plain-object form. */
  export interface Block {
    id: string;
    /** One of consts.BlockKind: user, llm_text, tool_call, tool_use, system, reasoning, other. */
    kind: string;
    /** "user", "assistant", "system" or "" (tool blocks). */
    role: string;
    /** text, id, name, args, result, error, images, encrypted_content, item_id, summary. */
    payload: Record<string, unknown>;
    /** Present only when non-empty; known keys use short names (consts.BlockMetadataKeys). */
    metadata?: Record<string, unknown>;
  }

  /** A turn; every value returned by the module is a fresh object (never aliases history). */
  export interface Turn {
    id: string;
    blocks: Block[];
    /** Present only when non-empty; known keys use short names, others come back as "geppetto.<k>@v1". */
    metadata?: Record<string, unknown>;
    data?: Record<string, unknown>;
  }

  /** What scripts may pass where a turn is expected (decoding is lenient, see spec §1.3). */
  export type TurnInput = Partial<Turn> & { blocks?: Array<Partial<Block> & Record<string, unknown>> };

  // ------------------------------------------------------------------------------ engines
  /** An engine object; the engine itself stays in the host behind a hidden reference. */
  export interface Engine {
    readonly name: string;
    /** engine().inference(settings).build(): the provenance map (registrySlug, profileSlug,
     *  stackLineage, sources, metadata). */
    readonly metadata?: Record<string, any>;
    /** engine().inference(settings).build(): present when the profile declares model_info. */
    readonly modelInfo?: ModelInfo;
    /** "[Engine <name>]". */
    toString(): string;
  }

  export interface EchoOptions {
    /** Reply text (trimmed; empty means "READY"). */
    reply?: string;
    /** Pause before each streamed word, in milliseconds. */
    delayMs?: number;
  }

  export interface EngineOptions {
    profile?: string;
    model?: string;
    apiType?: string;
    provider?: string;
    temperature?: number;
    topP?: number;
    maxTokens?: number;
    timeoutSeconds?: number;
    timeoutMs?: number;
    apiKey?: string;
    baseURL?: string;
  }

  // ------------------------------------------------------------------------------ middlewares
  export interface MiddlewareContext {
    middlewareName: string;
    timestampMs: number;
    turnId?: string;
    sessionId?: string;
    inferenceId?: string;
    traceId?: string;
    tags?: Record<string, unknown>;
  }

  /** `next(turn?)` runs the rest of the chain; without an argument it gets the original turn. */
  export type MiddlewareFunction = (
    turn: Turn,
    next: (turn?: TurnInput) => Turn,
    ctx: MiddlewareContext,
  ) => TurnInput | undefined | null | Promise<TurnInput | undefined | null>;

  export interface JSMiddleware {
    readonly type: "js";
    readonly name: string;
  }

  export interface HostMiddleware {
    readonly type: "go";
    readonly name: string;
    readonly options?: Record<string, unknown>;
  }

  export type Middleware = JSMiddleware | HostMiddleware | MiddlewareFunction;

  // ------------------------------------------------------------------------------ tools
  export interface ToolContext {
    toolName: string;
    timestampMs: number;
    sessionId?: string;
    inferenceId?: string;
    tags?: Record<string, unknown>;
    /** The model's call id ("direct-call" for registry.call) and the name it called. */
    callId?: string;
    callName?: string;
    /** Unix ms at which the execution timeout cancels the call, when one is configured. */
    deadlineMs?: number;
  }

  /** A tool as `register` and `toolRegistry().add` take it as a plain object. */
  export interface ToolRegistration {
    name: string;
    description?: string;
    /** JSON schema of the arguments object (default: any object). */
    parameters?: Record<string, unknown>;
    handler: (args: Record<string, unknown>, ctx: ToolContext) => unknown;
  }

  export interface ToolInfo {
    name: string;
    description: string;
    version: string;
    tags: string[];
  }

  /**
   * One MCP server, as an entry of the `mcpServers` config (Claude Desktop / Cursor format):
   * `command` (+ `args`, `env`, `cwd`) for a stdio server we start, or `url` (+ `headers`) for a
   * Streamable HTTP server. `${VAR}` in `env`/`headers` is read from the environment.
   */
  export interface MCPServerSpec {
    /** Prefixes the server's tool names: `fs` makes `fs_read_file`. */
    name: string;
    command?: string;
    args?: string[];
    /** The only variables the child gets besides PATH and HOME (never our provider keys). */
    env?: Record<string, string>;
    cwd?: string;
    url?: string;
    headers?: Record<string, string>;
    /** Only these tools (server names, without the prefix). */
    include?: string[];
    /** Every tool but these. */
    exclude?: string[];
  }

  export interface ToolRegistry {
    register(spec: ToolRegistration): ToolRegistry;
    /**
     * Start an MCP server and add its tools (named `<name>_<tool>`); a name that is already
     * registered throws. The server stops when the script's runtime closes.
     */
    addMCP(server: MCPServerSpec): ToolRegistry;
    /** A `tool(name)...build()` spec or a plain tool object (reference HEAD). */
    add(tool: ToolSpec | ToolRegistration): ToolRegistry;
    /** Import host tools by name (all of them when none is given; arrays are flattened). */
    addGo(...names: Array<string | string[]>): ToolRegistry;
    /** Import host tools (all when `names` is empty); the reference name. */
    useGoTools(names?: string | string[]): ToolRegistry;
    useHostTools(names?: string | string[]): ToolRegistry;
    list(): ToolInfo[];
    /** Run a tool now (no hooks); throws the tool's error. */
    call(name: string, args?: Record<string, unknown>): unknown;
  }

  export interface ToolCallInfo {
    id: string;
    name: string;
    args: unknown;
  }

  interface HookPayloadBase {
    call: ToolCallInfo;
    timestampMs: number;
    sessionId?: string;
    inferenceId?: string;
    tags?: Record<string, unknown>;
  }

  export interface BeforeToolCallPayload extends HookPayloadBase {
    phase: "beforeToolCall";
  }

  export interface AfterToolCallPayload extends HookPayloadBase {
    phase: "afterToolCall";
    result: { value: unknown; error: string; durationMs: number };
  }

  export interface ToolErrorPayload extends HookPayloadBase {
    phase: "onToolError";
    attempt: number;
    error: string;
    defaultRetry: boolean;
    defaultBackoffMs: number;
    result: { value: unknown; error: string };
  }

  export interface ToolHooks {
    beforeToolCall?: (p: BeforeToolCallPayload) => unknown;
    afterToolCall?: (p: AfterToolCallPayload) => unknown;
    onToolError?: (p: ToolErrorPayload) => unknown;
    failOpen?: boolean;
    hookErrorPolicy?: "fail-open" | "open" | "fail-closed" | "closed" | string;
    onHookError?: string;
    maxHookRetries?: number;
  }

  export interface ToolLoopOptions {
    enabled?: boolean;
    maxIterations?: number;
    maxParallelTools?: number;
    executionTimeoutMs?: number;
    toolChoice?: "auto" | "none" | "required";
    toolErrorHandling?: "continue" | "abort" | "retry";
    retryMaxRetries?: number;
    retryBackoffMs?: number;
    retryBackoffFactor?: number;
    allowedTools?: string[];
    hooks?: ToolHooks;
  }

  // ------------------------------------------------------------------------------ sessions
  export interface SessionOptions {
    engine?: Engine;
    middlewares?: Middleware[];
    tools?: ToolRegistry;
    toolLoop?: ToolLoopOptions;
    toolHooks?: ToolHooks;
    /** Session id (default: a new UUID; with `resumeLatest`, the stored session to continue). */
    sessionId?: string;
    /**
     * Where every run (completed, failed or cancelled) is persisted: `true`/"default" the host's
     * default store, another string a named host store, a `turnStores` wrapper, `false`/`null` none.
     * Unset, `resumeLatest` and `fork` use (and persist to) the default store.
     */
    store?: StoreChoice;
    /** Continue a stored session: load its turns into the new session. */
    resumeLatest?: boolean | ResumeLatestOptions;
    /** Fork a stored session at turn `at` (index or turn id; default latest) into a new session id. */
    fork?: { sessionId: string; at?: number | string };
  }

  export type StoreChoice = boolean | string | TurnStore | null;

  export interface ResumeLatestOptions {
    /** Default: the option `sessionId`, else the most recently stored session. */
    sessionId?: string;
    phase?: string;
    sinceMs?: number;
    /** Load at most this many of the newest stored turns. */
    limit?: number;
    /** Throw `no stored turn found for session "<id>"` when nothing is stored. */
    required?: boolean;
  }

  // ------------------------------------------------------------------------------ turn stores
  export interface TurnStoreQuery {
    /** Aliases: sessionID, convId, conversationId (one conversation per session here). */
    sessionId?: string;
    sessionID?: string;
    convId?: string;
    conversationId?: string;
    phase?: string;
    /** "completed", "failed" or "cancelled". */
    outcome?: string;
    sinceMs?: number;
    /** Keep the newest `limit` turns (or sessions). */
    limit?: number;
  }

  /** One persisted run (reference HEAD shape plus this store's `index`, `outcome`, `error`, `model`). */
  export interface TurnStoreSnapshot {
    /** The session id: this store keeps one conversation per session. */
    convId: string;
    sessionId: string;
    turnId: string;
    phase: string;
    /** The turn's `runtime` metadata when it is a string (or its `runtime_key`), else "". */
    runtimeKey: string;
    inferenceId: string;
    createdAtMs: number;
    /** 0-based position within its session. */
    index: number;
    outcome: "completed" | "failed" | "cancelled";
    error: string | null;
    model: string;
    /** Read-only; also exposes `blocks`, `metadata`, `data` and `id` for seed-era scripts. */
    turn: TurnWrapper | null;
    /** The snapshot as plain data, `turn` as a plain turn object. */
    toJSON(): Record<string, any>;
  }

  /** The seed-era name of a snapshot. */
  export type TurnSnapshot = TurnStoreSnapshot;

  export interface StoredSessionInfo {
    id: string;
    title: string;
    turnCount: number;
    createdAtMs: number;
    updatedAtMs: number;
    lastModel: string;
    lastOutcome: string;
    forkedFromSession: string | null;
    forkedFromTurnId: string | null;
  }

  /** A host turn store (read-only from JS; the host opens it on first use). */
  export interface TurnStore {
    name(): string;
    /** Stored turns, oldest first. */
    list(query?: TurnStoreQuery): TurnStoreSnapshot[];
    loadLatest(query?: TurnStoreQuery): TurnStoreSnapshot | null;
    /** Stored sessions, most recently written first (`sinceMs`, `limit`). */
    sessions(query?: { sinceMs?: number; limit?: number }): StoredSessionInfo[];
    /** Release the store if the module opened it (the next query reopens it); a store the
     * host handed in open stays open. */
    close(): void;
  }

  export interface TurnStores {
    /** Throws `geppetto turnStores.default is not configured` without a host default store. */
    default(): TurnStore;
    /** Throws `geppetto turn store "<name>" is not configured`. */
    get(name: string): TurnStore;
  }

  export interface RunOptions {
    /** Cancel the run after this many milliseconds (0: no limit); it rejects with code "timeout". */
    timeoutMs?: number;
    /** Visible to middlewares, tools and hooks as `ctx.tags`. */
    tags?: Record<string, unknown>;
  }

  export interface GeppettoEvent {
    type: string;
    timestampMs: number;
    sessionId?: string;
    inferenceId?: string;
    turnId?: string;
    model?: string;
    usage?: Record<string, number>;
    stopReason?: string;
    durationMs?: number;
    metaExtra?: Record<string, unknown>;
    delta?: string;
    completion?: string;
    text?: string;
    toolCall?: { id: string; name: string; input: string };
    toolResult?: { id: string; result: string };
    error?: string;
    [key: string]: unknown;
  }

  /** Ids tying an event of the reference's vocabulary to its run, provider call, segment and tool
   *  call (snake_case keys, as the reference sends them). */
  export interface EventCorrelation {
    session_id?: string;
    run_id?: string;
    turn_id?: string;
    provider_call_id?: string;
    segment_id?: string;
    tool_call_id?: string;
  }

  export interface EventUsage {
    input_tokens?: number;
    output_tokens?: number;
    cached_tokens?: number;
    cache_creation_input_tokens?: number;
    cache_read_input_tokens?: number;
  }

  /** What every event of the reference's vocabulary carries (agent `events(emitter)` payloads and
   *  `RunHandle.on(<reference name>)`). */
  export interface GeppettoEventBase {
    type: string;
    timestampMs: number;
    sessionId?: string;
    inferenceId?: string;
    turnId?: string;
    correlation?: EventCorrelation;
    metaExtra?: Record<string, any>;
    rawPayload?: string;
  }

  type ToolCallRef = { id: string; name?: string };

  /** The reference's event vocabulary, one member per type. */
  export type ReferenceEvent =
    | (GeppettoEventBase & { type: "run-started"; prompt?: string })
    | (GeppettoEventBase & { type: "run-finished"; status?: string })
    | (GeppettoEventBase & { type: "run-stopped"; reason?: string })
    | (GeppettoEventBase & { type: "run-failed"; error?: string; message?: string })
    | (GeppettoEventBase & { type: "provider-call-started" })
    | (GeppettoEventBase & { type: "provider-call-metadata-updated"; stopReason?: string; stopSequence?: string; usage?: EventUsage })
    | (GeppettoEventBase & {
        type: "provider-call-finished"; stopReason?: string; finishClass?: string; usage?: EventUsage;
        durationMs?: number; hasToolCalls?: boolean;
      })
    | (GeppettoEventBase & { type: "text-segment-started"; role?: string })
    | (GeppettoEventBase & { type: "text-delta"; delta: string; text: string; sequence?: number })
    | (GeppettoEventBase & { type: "text-segment-finished"; text: string; finishReason?: string })
    | (GeppettoEventBase & { type: "reasoning-segment-started"; source?: string })
    | (GeppettoEventBase & { type: "reasoning-delta"; delta: string; text: string; sequence?: number; source?: string })
    | (GeppettoEventBase & { type: "reasoning-segment-finished"; text?: string; finishReason?: string; source?: string })
    | (GeppettoEventBase & { type: "tool-call-started"; toolCall: ToolCallRef })
    | (GeppettoEventBase & { type: "tool-call-arguments-delta"; toolCall: { id: string; delta: string; arguments: string; sequence?: number } })
    | (GeppettoEventBase & { type: "tool-call-requested"; toolCall: { id: string; name: string; input: string } })
    | (GeppettoEventBase & { type: "tool-execution-started"; toolCall: ToolCallRef & { input?: string } })
    | (GeppettoEventBase & { type: "tool-result-ready"; toolResult: { id: string; name?: string; result: string; status?: string } })
    | (GeppettoEventBase & { type: "tool-call-finished"; toolCall: ToolCallRef & { status?: string } })
    | (GeppettoEventBase & { type: "error"; error?: string; message?: string })
    | (GeppettoEventBase & { type: "interrupt"; text: string })
    | (GeppettoEventBase & { type: "log"; level: string; message: string; fields?: Record<string, any> })
    | (GeppettoEventBase & { type: "info"; message: string; data?: Record<string, any> });

  /** Errors thrown or rejected by the module carry a stable code (e.g. "cancelled"). */
  export interface GeppettoError extends Error {
    code?: string;
  }

  export interface RunHandle {
    /** Settles after every event was delivered and after the session is idle again. */
    promise: Promise<Turn>;
    cancel(): RunHandle;
    /** `type` is a seed event type (`consts.EventType`) or "*" for every seed event (seed payloads),
     * or a name of the reference's vocabulary ("run-started", "text-delta", "tool-result-ready", ...),
     * whose listeners get the reference's event payloads with `correlation`. */
    on(type: string, listener: (event: GeppettoEvent) => void): RunHandle;
  }

  export interface Session {
    readonly id: string;
    append(turn: TurnInput): Turn;
    latest(): Turn;
    turnCount(): number;
    turns(): Turn[];
    getTurn(index: number): Turn | null;
    turnsRange(start?: number, end?: number): Turn[];
    isRunning(): boolean;
    cancelActive(): void;
    run(seed?: TurnInput, opts?: RunOptions): Turn;
    runAsync(seed?: TurnInput, opts?: RunOptions): Promise<Turn>;
    start(seed?: TurnInput, opts?: RunOptions): RunHandle;
  }

  export interface Builder {
    withEngine(engine: Engine): Builder;
    useMiddleware(mw: Middleware): Builder;
    useGoMiddleware(name: string, options?: Record<string, unknown>): Builder;
    useHostMiddleware(name: string, options?: Record<string, unknown>): Builder;
    withTools(registry: ToolRegistry, toolLoopOpts?: ToolLoopOptions): Builder;
    withToolLoop(opts?: ToolLoopOptions): Builder;
    withToolHooks(hooks: ToolHooks): Builder;
    /** The `store` session option; no argument means the default store. */
    withStore(store?: StoreChoice): Builder;
    buildSession(): Session;
  }

  // ------------------------------------------------------------------------------ exports
  export const version: string;

  export function createBuilder(opts?: SessionOptions): Builder;
  export function createSession(opts: SessionOptions): Session;
  export function runInference(engine: Engine | null, turn: TurnInput, opts?: SessionOptions): Turn;

  /** The host's turn stores (`geppetto js run --store PATH`; `--no-store` gives none). */
  export const turnStores: TurnStores;

  export namespace turns {
    function normalize(turn: TurnInput): Turn;
    function newTurn(opts?: TurnInput): Turn;
    function appendBlock(turn: TurnInput, block: Partial<Block>): Turn;
    function newUserBlock(text?: string): Block;
    function newSystemBlock(text?: string): Block;
    function newAssistantBlock(text?: string): Block;
    function newToolCallBlock(id: string, name: string, args: unknown): Block;
    function newToolUseBlock(id: string, result: unknown, error?: string): Block;
  }

  export namespace engines {
    function echo(opts?: EchoOptions): Engine;
    function fromFunction(fn: (turn: Turn) => TurnInput | undefined | null | Promise<TurnInput | undefined | null>): Engine;
    function fromProfile(profile?: string, opts?: EngineOptions): Engine;
    function fromConfig(opts: EngineOptions): Engine;
  }

  export namespace middlewares {
    function fromJS(fn: MiddlewareFunction, name?: string): JSMiddleware;
    function go(name: string, options?: Record<string, unknown>): HostMiddleware;
    function host(name: string, options?: Record<string, unknown>): HostMiddleware;
  }

  export namespace tools {
    function createRegistry(): ToolRegistry;
  }

  export namespace consts {
    const BlockKind: {
      readonly USER: "user";
      readonly LLM_TEXT: "llm_text";
      readonly TOOL_CALL: "tool_call";
      readonly TOOL_USE: "tool_use";
      readonly SYSTEM: "system";
      readonly REASONING: "reasoning";
      readonly OTHER: "other";
    };
    const TurnDataKeys: {
      readonly TOOL_CONFIG: "tool_config";
      readonly TOOL_DEFINITIONS: "tool_definitions";
      readonly STRUCTURED_OUTPUT_CONFIG: "structured_output_config";
      readonly INFERENCE_CONFIG: "inference_config";
      readonly CLAUDE_INFERENCE_CONFIG: "claude_inference_config";
      readonly OPENAI_INFERENCE_CONFIG: "openai_inference_config";
      readonly AGENT_MODE_ALLOWED_TOOLS: "agent_mode_allowed_tools";
      readonly AGENT_MODE: "agent_mode";
      readonly RESPONSES_SERVER_TOOLS: "responses_server_tools";
    };
    const TurnMetadataKeys: {
      readonly PROVIDER: "provider";
      readonly RUNTIME: "runtime";
      readonly SESSION_ID: "session_id";
      readonly INFERENCE_ID: "inference_id";
      readonly TRACE_ID: "trace_id";
      readonly USAGE: "usage";
      readonly STOP_REASON: "stop_reason";
      readonly MODEL: "model";
      readonly INFERENCE_RESULT: "inference_result";
    };
    const BlockMetadataKeys: {
      readonly CLAUDE_ORIGINAL_CONTENT: "claude_original_content";
      readonly TOOL_CALLS: "tool_calls";
      readonly MIDDLEWARE: "middleware";
      readonly AGENTMODE_TAG: "agentmode_tag";
      readonly AGENTMODE: "agentmode";
      readonly INFERENCE_RESULT: "inference_result";
    };
    const RunMetadataKeys: {
      readonly TRACE_ID: "trace_id";
    };
    const PayloadKeys: {
      readonly TEXT: "text";
      readonly ID: "id";
      readonly NAME: "name";
      readonly ARGS: "args";
      readonly RESULT: "result";
      readonly ERROR: "error";
      readonly IMAGES: "images";
      readonly ENCRYPTED_CONTENT: "encrypted_content";
      readonly ITEM_ID: "item_id";
      readonly SUMMARY: "summary";
    };
    const ToolChoice: {
      readonly AUTO: "auto";
      readonly NONE: "none";
      readonly REQUIRED: "required";
    };
    const ToolErrorHandling: {
      readonly CONTINUE: "continue";
      readonly ABORT: "abort";
      readonly RETRY: "retry";
    };
    const HookAction: {
      readonly ABORT: "abort";
      readonly RETRY: "retry";
      readonly CONTINUE: "continue";
    };
    const EventType: {
      readonly START: "start";
      readonly PARTIAL: "partial";
      readonly PARTIAL_THINKING: "partial-thinking";
      readonly TOOL_CALL: "tool-call";
      readonly TOOL_CALL_EXECUTE: "tool-call-execute";
      readonly TOOL_CALL_EXECUTION_RESULT: "tool-call-execution-result";
      readonly TOOL_RESULT: "tool-result";
      readonly FINAL: "final";
      readonly ERROR: "error";
      readonly INTERRUPT: "interrupt";
      readonly LOG: "log";
      readonly INFO: "info";
    };
  }

  // ---- schema, tools and turn stores (reference HEAD API)
  /** An immutable turn (turn store snapshots, run results, sessions). */
  export interface TurnWrapper {
    /** A fresh, mutable plain turn. */
    toJSON(): Turn;
    clone(): TurnWrapper;
    /** Read-only views of the turn, kept for seed-era scripts. */
    readonly id?: string;
    readonly blocks: ReadonlyArray<Block>;
    readonly metadata?: Record<string, any>;
    readonly data?: Record<string, any>;
  }

  /** A built JSON schema. */
  export interface Schema {
    toJSON(): Record<string, any>;
    clone(): Schema;
  }

  /** Immutable: every method returns a new builder. */
  export interface SchemaBuilder {
    description(text: string): SchemaBuilder;
    /** A Schema, a SchemaBuilder or a plain JSON schema object. */
    property(name: string, schema: Schema | SchemaBuilder | Record<string, any>): SchemaBuilder;
    items(schema: Schema | SchemaBuilder | Record<string, any>): SchemaBuilder;
    /** Replaces the required list; arrays are flattened, blank names dropped. */
    required(...names: Array<string | string[]>): SchemaBuilder;
    build(): Schema;
    toJSON(): Record<string, any>;
  }

  export const schema: {
    string(): SchemaBuilder;
    integer(): SchemaBuilder;
    number(): SchemaBuilder;
    boolean(): SchemaBuilder;
    array(): SchemaBuilder;
    /** Starts with `properties: {}`. */
    object(): SchemaBuilder;
    enum(...values: any[]): SchemaBuilder;
  };

  /** What `tool(name)...build()` returns; `toolRegistry().add(spec)` registers it. */
  export interface ToolSpec {
    name: string;
    description: string;
    toJSON(): { name: string; description: string; parameters: Record<string, any> | null };
  }

  /** Immutable: every method returns a new builder. */
  export interface ToolBuilder {
    description(text: string): ToolBuilder;
    input(schema: Schema | SchemaBuilder | Record<string, any>): ToolBuilder;
    handler(fn: (input: any, context: ToolContext) => any): ToolBuilder;
    /** Throws TypeError `tool handler is required` without a handler. */
    build(): ToolSpec;
  }

  /** Throws TypeError `tool name must not be empty` for a blank name. */
  export function tool(name: string): ToolBuilder;

  /** What `agent().events(...)` accepts: a `require("events")` EventEmitter, or any object with
   * these methods. */
  export interface EventEmitterLike {
    on(name: "event", listener: (event: GeppettoEvent) => void): this;
    on(name: string | symbol, listener: (...args: any[]) => void): this;
    once(name: "event", listener: (event: GeppettoEvent) => void): this;
    once(name: string | symbol, listener: (...args: any[]) => void): this;
    off(name: string | symbol, listener: (...args: any[]) => void): this;
    emit(name: string | symbol, ...args: any[]): boolean;
  }

  /** The reference's name for the registry `toolRegistry()` returns. */
  export interface ToolRegistryBuilder extends ToolRegistry {}

  /** A new, empty tool registry (the same kind `tools.createRegistry()` returns). */
  export function toolRegistry(): ToolRegistryBuilder;

  // ---- inference profiles and engine builder (reference HEAD API)

  export interface ModelCost {
    input: number;
    output: number;
    cacheRead: number;
    cacheWrite: number;
  }

  /** A profile's inference_settings.model_info (undeclared parts are absent). */
  export interface ModelInfo {
    id?: string;
    name?: string;
    reasoning?: boolean;
    input?: string[];
    contextWindow?: number;
    qualityHighWatermark?: number;
    maxOutputTokens?: number;
    cost?: ModelCost;
    metadata?: Record<string, any>;
  }

  export interface RegistrySummary {
    slug: string;
    display_name?: string;
    default_profile_slug?: string;
    profile_count: number;
  }

  export interface ProfileRef {
    registry_slug?: string;
    profile_slug: string;
  }

  /** A profile as written in its registry; API keys are "[REDACTED]". */
  export interface Profile {
    slug: string;
    display_name?: string;
    description?: string;
    stack?: ProfileRef[];
    inference_settings?: Record<string, any>;
    metadata?: ProfileMetadata;
    extensions?: Record<string, any>;
  }

  export interface ProfileMetadata {
    source?: string;
    version?: number;
    created_at_ms?: number;
    updated_at_ms?: number;
    created_by?: string;
    updated_by?: string;
    tags?: string[];
  }

  export type ProfileRegistrySources = string | string[];
  export type ResolveProfileInput =
    | string
    | { registry?: string; registrySlug?: string; profile?: string; profileSlug?: string };

  /** Registry-resolved settings; the only thing engine()/agent() accept as settings. */
  export interface InferenceSettings {
    /** The inference_settings-shaped snapshot (secrets "[REDACTED]") plus provenance. */
    toJSON(): Record<string, any>;
    clone(): InferenceSettings;
    /** {kind: "InferenceSettings", snapshot, provenance, apiKeyNames, baseURLNames}. */
    debug(): Record<string, any>;
    /** "[InferenceSettings]". */
    toString(): string;
  }

  /** Methods throw "registry.<method> called after registry.close" once closed; close() is idempotent. */
  export interface InferenceRegistry {
    readonly sources: string[];
    listRegistries(): RegistrySummary[];
    listProfiles(registrySlug?: string): Profile[];
    resolve(input?: ResolveProfileInput): InferenceSettings;
    close(): void;
  }

  /** load(): YAML/SQLite registry sources (relative to the cwd); resolve()/default(): the host's
   *  --profile-registries/--profile/--profile-file/--config-file and PINOCCHIO_* settings. */
  export const inferenceProfiles: {
    load(source: ProfileRegistrySources): InferenceRegistry;
    resolve(input?: ResolveProfileInput): InferenceSettings;
    default(): InferenceRegistry;
  };

  /** Immutable: inference() returns a new builder. */
  export interface EngineBuilder {
    inference(settings: InferenceSettings): EngineBuilder;
    /** name "inferenceSettings"; missing keys fail here ("missing API key openai-api-key"). */
    build(): Engine;
  }

  export function engine(): EngineBuilder;

  // ---- embeddings and reranking (reference HEAD API; geppetto.embeddings / geppetto.rerank)
  export interface EmbeddingModel {
    name: string;
    /** The configured size (openai without one: 1536; local without one: 0 until the first call). */
    dimensions: number;
  }

  /** From the profile's `embeddings` section (type openai | ollama | gemini | local). */
  export interface EmbeddingsProvider {
    embed(text: string): number[];
    /** One vector per text, in order; batched and cached as the profile says. */
    embedBatch(texts: string[]): number[][];
    /** No network call. */
    model(): EmbeddingModel;
  }

  export function embeddings(settings: InferenceSettings): EmbeddingsProvider;

  export interface RerankDocument {
    id: string;
    text: string;
  }

  export interface RerankOptions {
    /** Required: a safe integer between 1 and documents.length. */
    topN: number;
    /** Must equal the profile's rerank engine when given. */
    model?: string;
  }

  export interface RerankResult {
    documentId: string;
    index: number;
    score: number;
    /** 1-based, by descending score. */
    rank: number;
  }

  export interface RerankUsage {
    inputTokens?: number;
    totalTokens?: number;
  }

  export interface RerankResponse {
    provider: string;
    model: string;
    results: RerankResult[];
    usage?: RerankUsage;
    /** model_info.cost.input (per million tokens) times the input tokens. */
    cost?: number;
    requestId?: string;
    durationMs?: number;
  }

  export interface RerankAsyncHandle {
    promise: Promise<RerankResponse>;
    /** Idempotent; the promise rejects with "rerank cancelled". */
    cancel(): void;
    close(): void;
  }

  /** From the profile's `rerank` section (type llamacpp | cohere | jina) and api.base_urls.rerank-base-url. */
  export interface RerankerProvider {
    rerank(query: string, documents: RerankDocument[], options: RerankOptions): RerankResponse;
    rerankAsync(query: string, documents: RerankDocument[], options: RerankOptions): RerankAsyncHandle;
    /** No network call. */
    model(): { provider: string; name: string };
  }

  export function reranker(settings: InferenceSettings): RerankerProvider;

  // ---- agents and sessions (reference HEAD API)
  /** A user message with images: `session.next().user(m => m.text("...").imageURL(url))`. */
  export interface MessageBuilder {
    text(text: string): MessageBuilder;
    /** `options` are copied into the image entry (e.g. `{detail: "low"}`). */
    imageURL(url: string, options?: Record<string, any>): MessageBuilder;
    /** Reads the file; the media type comes from the extension (jpeg, png, gif, webp). */
    imageFile(path: string): MessageBuilder;
    /** Base64 content; `mediaType` defaults to `"application/octet-stream"`. */
    imageBytes(content: string, mediaType?: string): MessageBuilder;
  }

  export interface RunResult {
    /** The turn as built, before runtime stamping. */
    inputTurn(): TurnWrapper;
    /** The turn the pipeline started from (with `metadata.runtime = {agentName, sessionName}`). */
    effectiveTurn(): TurnWrapper;
    outputTurn(): TurnWrapper;
    /** Every assistant text of the output turn (history included), joined by newlines. */
    text(): string;
    /** Usage the engine reported, or null. */
    usage(): any;
    stopReason(): string | null;
    events(): any[];
    toJSON(): { inputTurn: Turn; effectiveTurn: Turn; outputTurn: Turn; text: string };
  }

  export interface AgentAsyncHandle {
    /** Resolves after every event of the run was delivered; rejects with an Error (`.code`). */
    promise: Promise<RunResult>;
    cancel(): void;
    close(): void;
  }

  export interface SessionBuilder {
    id(id: string): SessionBuilder;
    name(name: string): SessionBuilder;
    base(turn: TurnWrapper): SessionBuilder;
    store(store: TurnStore): SessionBuilder;
    defaultStore(): SessionBuilder;
    persist(enabled?: boolean): SessionBuilder;
    /** Defaults: `sessionId` = this session's id, `phase` = "final". */
    resumeLatest(query?: TurnStoreQuery & { required?: boolean }): SessionBuilder;
    resumeNone(): SessionBuilder;
    metadata(key: string, value: any): SessionBuilder;
    runDefaults(options?: RunOptions): SessionBuilder;
    build(): AgentSession;
  }

  export interface AgentSession {
    id(): string;
    name(): string;
    next(): SessionTurnBuilder;
    fork(options?: { at?: number | TurnWrapper } | TurnWrapper): SessionBuilder;
    latestTurn(): TurnWrapper | null;
    turns(): TurnWrapper[];
    turn(index: number): TurnWrapper | null;
    turnCount(): number;
    isRunning(): boolean;
    cancel(): void;
    close(): void;
  }

  /** Immutable: every method returns a new builder. */
  export interface SessionTurnBuilder {
    system(text: string): SessionTurnBuilder;
    user(text: string | ((message: MessageBuilder) => MessageBuilder)): SessionTurnBuilder;
    assistant(text: string): SessionTurnBuilder;
    metadata(key: string, value: any): SessionTurnBuilder;
    run(options?: RunOptions): RunResult;
    runAsync(options?: RunOptions): AgentAsyncHandle;
  }

  export interface Agent {
    readonly name: string;
    session(): SessionBuilder;
  }

  export interface AgentBuilder {
    name(name: string): AgentBuilder;
    inference(settings: InferenceSettings): AgentBuilder;
    engine(engine: Engine): AgentBuilder;
    middleware(middleware: Middleware): AgentBuilder;
    goMiddleware(name: string, options?: Record<string, any>): AgentBuilder;
    tool(registry: ToolRegistry): AgentBuilder;
    goTool(name: string): AgentBuilder;
    toolLoop(options?: ToolLoopOptions): AgentBuilder;
    /** An EventEmitter, a function called with each event, or a host event sink. */
    events(sink: EventEmitterLike | ((event: any) => void) | any): AgentBuilder;
    /** `null` switches persistence off, also the host's default. */
    store(store: TurnStore | null): AgentBuilder;
    defaultStore(enabled?: boolean): AgentBuilder;
    persist(enabled?: boolean): AgentBuilder;
    persistTo(store: TurnStore | null): AgentBuilder;
    persistDefault(enabled?: boolean): AgentBuilder;
    runDefaults(options?: RunOptions): AgentBuilder;
    build(): Agent;
  }

  export function agent(): AgentBuilder;
}

/** Node's EventEmitter (`require("events")`, also `require("node:events")`). */
declare module "events" {
  type EventName = string | symbol;
  type Listener = (...args: any[]) => void;

  class EventEmitter {
    constructor();
    static EventEmitter: typeof EventEmitter;
    static defaultMaxListeners: number;
    /** Listeners on this symbol see every "error" emit before the "error" listeners do. */
    static readonly errorMonitor: unique symbol;
    /** The arguments of the next `name` emit; rejects on an "error" emit first. */
    static once(emitter: EventEmitter, name: EventName): Promise<any[]>;
    static listenerCount(emitter: EventEmitter, name: EventName): number;

    on(name: EventName, listener: Listener): this;
    addListener(name: EventName, listener: Listener): this;
    once(name: EventName, listener: Listener): this;
    prependListener(name: EventName, listener: Listener): this;
    prependOnceListener(name: EventName, listener: Listener): this;
    off(name: EventName, listener: Listener): this;
    removeListener(name: EventName, listener: Listener): this;
    removeAllListeners(name?: EventName): this;
    /** True when some listener ran. `emit("error", err)` without listeners throws `err` (or an
     * Error "Unhandled error. (...)" when it is not an Error). */
    emit(name: EventName, ...args: any[]): boolean;
    listenerCount(name: EventName, listener?: Listener): number;
    listeners(name: EventName): Listener[];
    rawListeners(name: EventName): Listener[];
    eventNames(): EventName[];
    setMaxListeners(n: number): this;
    getMaxListeners(): number;
  }

  export = EventEmitter;
}

declare module "node:events" {
  import EventEmitter = require("events");
  export = EventEmitter;
}
