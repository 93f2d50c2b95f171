// Test fixtures (not exported from the package): the input schemas of the tools that coding
// agents send, as their requests carry them (descriptions left out). Claude Code's are the zod
// schemas of its CLI (2.1.x) turned into JSON Schema 2020-12; Codex's are its built-in tools (its
// own small schema type) and, as it forwards them unchanged, an MCP server's tool (the reference
// fetch server's). These are what made every request of theirs a 400 before rbee honoured
// numeric bounds, `pattern`, `format: uri` and `propertyNames`.

const DRAFT = 'https://json-schema.org/draft/2020-12/schema'
type Schema = Record<string, unknown>
const obj = (properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema => ({
  $schema: DRAFT,
  type: 'object',
  properties,
  ...(required.length > 0 ? { required } : {}),
  additionalProperties: false,
  ...extra,
})
const str: Schema = { type: 'string' }
const num: Schema = { type: 'number' }
const bool: Schema = { type: 'boolean' }
const strings: Schema = { type: 'array', items: str }
const anyMap: Schema = { type: 'object', propertyNames: { type: 'string' }, additionalProperties: {} }

/** Claude Code's tools (Anthropic Messages `tools[].input_schema`), by name. */
export const CLAUDE_CODE_TOOL_SCHEMAS: Record<string, Schema> = {
  Task: obj(
    {
      description: str,
      prompt: str,
      subagent_type: str,
      model: { type: 'string', enum: ['sonnet', 'opus', 'haiku'] },
      resume: str,
      run_in_background: bool,
      max_turns: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 },
      isolation: { type: 'string', enum: ['worktree'] },
    },
    ['description', 'prompt', 'subagent_type'],
  ),
  TaskOutput: obj(
    {
      task_id: str,
      block: { default: true, type: 'boolean' },
      timeout: { default: 30000, type: 'number', minimum: 0, maximum: 600000 },
    },
    ['task_id', 'block', 'timeout'],
  ),
  Bash: obj(
    {
      command: str,
      timeout: num,
      description: str,
      run_in_background: bool,
      dangerouslyDisableSandbox: bool,
    },
    ['command'],
  ),
  BashOutput: obj({ bash_id: str, filter: str }, ['bash_id']),
  KillShell: obj({ shell_id: str, timeout_ms: { type: 'integer', minimum: 0, maximum: 60000 } }, [
    'shell_id',
  ]),
  Glob: obj({ pattern: str, path: str }, ['pattern']),
  Grep: obj(
    {
      pattern: str,
      path: str,
      glob: str,
      output_mode: { type: 'string', enum: ['content', 'files_with_matches', 'count'] },
      '-B': num,
      '-A': num,
      '-C': num,
      context: num,
      '-n': bool,
      '-i': bool,
      type: str,
      head_limit: num,
      offset: num,
      multiline: bool,
    },
    ['pattern'],
  ),
  ExitPlanMode: {
    $schema: DRAFT,
    type: 'object',
    properties: {
      allowedPrompts: {
        type: 'array',
        items: obj({ tool: { type: 'string', enum: ['Bash'] }, prompt: str }, ['tool', 'prompt']),
      },
    },
    additionalProperties: {},
  },
  Read: obj({ file_path: str, offset: num, limit: num, pages: str }, ['file_path']),
  Edit: obj(
    { file_path: str, old_string: str, new_string: str, replace_all: { default: false, type: 'boolean' } },
    ['file_path', 'old_string', 'new_string'],
  ),
  Write: obj({ file_path: str, content: str }, ['file_path', 'content']),
  NotebookEdit: obj(
    {
      notebook_path: str,
      cell_id: str,
      new_source: str,
      cell_type: { type: 'string', enum: ['code', 'markdown'] },
      edit_mode: { type: 'string', enum: ['replace', 'insert', 'delete'] },
    },
    ['notebook_path', 'new_source'],
  ),
  WebFetch: obj({ url: { type: 'string', format: 'uri' }, prompt: str }, ['url', 'prompt']),
  WebSearch: obj(
    { query: { type: 'string', minLength: 2 }, allowed_domains: strings, blocked_domains: strings },
    ['query'],
  ),
  TaskStop: obj({ task_id: str, shell_id: str }),
  AskUserQuestion: obj(
    {
      questions: {
        minItems: 1,
        maxItems: 4,
        type: 'array',
        items: obj(
          {
            question: str,
            header: str,
            options: {
              minItems: 2,
              maxItems: 4,
              type: 'array',
              items: obj({ label: str, description: str, markdown: str }, ['label', 'description']),
            },
            multiSelect: { default: false, type: 'boolean' },
          },
          ['question', 'header', 'options', 'multiSelect'],
        ),
      },
      answers: { type: 'object', propertyNames: { type: 'string' }, additionalProperties: str },
      annotations: {
        type: 'object',
        propertyNames: { type: 'string' },
        additionalProperties: obj({ markdown: str, notes: str }),
      },
      metadata: obj({ source: str }),
    },
    ['questions'],
  ),
  Skill: obj({ skill: str, args: str }, ['skill']),
  EnterPlanMode: obj({}),
  TaskCreate: obj({ subject: str, description: str, activeForm: str, metadata: anyMap }, [
    'subject',
    'description',
  ]),
  TaskGet: obj({ taskId: str }, ['taskId']),
  TaskUpdate: obj(
    {
      taskId: str,
      subject: str,
      description: str,
      activeForm: str,
      status: {
        anyOf: [
          { type: 'string', enum: ['pending', 'in_progress', 'completed'] },
          { type: 'string', const: 'deleted' },
        ],
      },
      addBlocks: strings,
      addBlockedBy: strings,
      owner: str,
      metadata: anyMap,
    },
    ['taskId'],
  ),
  TaskList: obj({}),
  TodoWrite: obj(
    {
      todos: {
        type: 'array',
        items: obj(
          {
            content: { type: 'string', minLength: 1 },
            status: { type: 'string', enum: ['pending', 'in_progress', 'completed'] },
            activeForm: { type: 'string', minLength: 1 },
          },
          ['content', 'status', 'activeForm'],
        ),
      },
    },
    ['todos'],
  ),
  ListMcpResourcesTool: obj({ server: str }),
  ReadMcpResourceTool: obj({ server: str, uri: str }, ['server', 'uri']),
}

/** Codex's tools (Responses `tools[].parameters`), by name. */
export const CODEX_TOOL_SCHEMAS: Record<string, Schema> = {
  shell: {
    type: 'object',
    properties: {
      command: { type: 'array', items: str },
      workdir: str,
      timeout_ms: num,
      with_escalated_permissions: bool,
      justification: str,
    },
    required: ['command'],
    additionalProperties: false,
  },
  exec_command: {
    type: 'object',
    properties: {
      cmd: str,
      workdir: str,
      shell: str,
      login: bool,
      yield_time_ms: num,
      max_output_tokens: num,
    },
    required: ['cmd'],
    additionalProperties: false,
  },
  write_stdin: {
    type: 'object',
    properties: { session_id: num, chars: str, yield_time_ms: num, max_output_tokens: num },
    required: ['session_id'],
    additionalProperties: false,
  },
  update_plan: {
    type: 'object',
    properties: {
      explanation: str,
      plan: {
        type: 'array',
        items: {
          type: 'object',
          properties: { step: str, status: str },
          required: ['step', 'status'],
          additionalProperties: false,
        },
      },
    },
    required: ['plan'],
    additionalProperties: false,
  },
  apply_patch: {
    type: 'object',
    properties: { input: str },
    required: ['input'],
    additionalProperties: false,
  },
  view_image: { type: 'object', properties: { path: str }, required: ['path'], additionalProperties: false },
  list_mcp_resources: {
    type: 'object',
    properties: { server: str, cursor: str },
    additionalProperties: false,
  },
  // An MCP server's tool, forwarded as the server declares it (pydantic's JSON Schema).
  fetch__fetch: {
    type: 'object',
    title: 'Fetch',
    properties: {
      url: { type: 'string', format: 'uri', minLength: 1, title: 'Url' },
      max_length: { type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: 1000000, default: 5000 },
      start_index: { type: 'integer', minimum: 0, default: 0 },
      raw: { type: 'boolean', default: false },
    },
    required: ['url'],
  },
}
