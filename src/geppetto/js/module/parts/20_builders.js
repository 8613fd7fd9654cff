// schema.*, tool(name) and toolRegistry() (reference HEAD). Schemas are plain JSON data, so their
// builders live here in JS; a built tool is registered on the same host ToolRegistry class that
// tools.createRegistry() returns (the seed methods keep working on it, and agents and
// builder.withTools() accept it).

const SCHEMA = Symbol('geppetto.schema');
const TOOL = Symbol('geppetto.tool');

// ---------------------------------------------------------------------------------- schema
// Every builder method returns a new builder: a builder held in a variable never changes.
const SchemaBuilderProto = {
  description(text) {
    const next = schemaCopy(this);
    if (arguments.length > 0) next.description = String(text);
    return schemaBuilder(next);
  },
  property(name, child) {
    if (arguments.length < 2) throw new TypeError('schema.object().property requires name and schema');
    const key = String(name).trim();
    if (key === '') throw new TypeError('schema property name must not be empty');
    const next = schemaCopy(this);
    next.properties = isObject(next.properties) ? next.properties : {};
    next.properties[key] = schemaOf(child);
    return schemaBuilder(next);
  },
  items(child) {
    if (arguments.length < 1) throw new TypeError('schema.array().items requires schema');
    const next = schemaCopy(this);
    next.items = schemaOf(child);
    return schemaBuilder(next);
  },
  required(...names) {
    const next = schemaCopy(this);
    const list = [];
    const addName = (n) => {
      const s = String(n).trim();
      if (s !== '') list.push(s);
    };
    for (const arg of names) {
      if (Array.isArray(arg)) arg.forEach(addName);
      else addName(arg);
    }
    next.required = list;
    return schemaBuilder(next);
  },
  build() { return schemaValue(schemaCopy(this)); },
  toJSON() { return schemaCopy(this); },
};
hide(SchemaBuilderProto, CLASS, 'SchemaBuilder');
Object.freeze(SchemaBuilderProto);

const SchemaProto = {
  toJSON() { return schemaCopy(this); },
  clone() { return schemaValue(schemaCopy(this)); },
};
hide(SchemaProto, CLASS, 'Schema');
Object.freeze(SchemaProto);

function wrapSchema(proto, plain) {
  const o = Object.create(proto);
  Object.defineProperty(o, SCHEMA, { value: deepFreeze(plain), enumerable: false });
  return Object.freeze(o);
}
const schemaBuilder = (plain) => wrapSchema(SchemaBuilderProto, plain);
const schemaValue = (plain) => wrapSchema(SchemaProto, plain);

function schemaCopy(wrapper) {
  if (wrapper === null || typeof wrapper !== 'object' || !Object.prototype.hasOwnProperty.call(wrapper, SCHEMA)) {
    throw new TypeError('schema method called on something that is not a schema builder');
  }
  return copyJSON(wrapper[SCHEMA]);
}

// A Schema, a SchemaBuilder or a plain JSON schema object, as a fresh plain object.
function schemaOf(v) {
  if (v !== null && typeof v === 'object' && Object.prototype.hasOwnProperty.call(v, SCHEMA)) return copyJSON(v[SCHEMA]);
  if (isObject(v) && !host.isHostObject(v)) return copyJSON(v);
  throw new Error('expected schema wrapper');
}

const schema = { enum: (...values) => schemaBuilder({ enum: copyJSON(values) }) };
for (const type of ['string', 'integer', 'number', 'boolean', 'array', 'object']) {
  schema[type] = () => schemaBuilder(type === 'object' ? { type, properties: {} } : { type });
}
Object.freeze(schema);

// ---------------------------------------------------------------------------------- tool(name)
const ToolBuilderProto = {
  description(text) {
    const next = toolState(this);
    if (arguments.length > 0) next.description = String(text);
    return toolBuilder(next);
  },
  input(input) {
    if (arguments.length < 1) throw new TypeError('tool.input requires schema');
    const next = toolState(this);
    next.parameters = deepFreeze(schemaOf(input));
    return toolBuilder(next);
  },
  handler(fn) {
    if (arguments.length < 1) throw new TypeError('tool.handler requires function');
    if (typeof fn !== 'function') throw new TypeError('tool.handler argument must be callable');
    const next = toolState(this);
    next.handler = fn;
    return toolBuilder(next);
  },
  build() {
    const state = toolState(this);
    if (state.name === '') throw new TypeError('tool name is required');
    if (state.handler === null) throw new TypeError('tool handler is required');
    const spec = Object.create(ToolSpecProto);
    spec.name = state.name;
    spec.description = state.description;
    Object.defineProperty(spec, TOOL, { value: Object.freeze(state), enumerable: false });
    return Object.freeze(spec);
  },
};
hide(ToolBuilderProto, CLASS, 'ToolBuilder');
Object.freeze(ToolBuilderProto);

const ToolSpecProto = {
  toJSON() {
    const state = this[TOOL];
    return { name: state.name, description: state.description, parameters: copyJSON(state.parameters) };
  },
};
hide(ToolSpecProto, CLASS, 'ToolSpec');
Object.freeze(ToolSpecProto);

function toolBuilder(state) {
  const o = Object.create(ToolBuilderProto);
  Object.defineProperty(o, TOOL, { value: Object.freeze(state), enumerable: false });
  return Object.freeze(o);
}

function toolState(builder) {
  if (builder === null || typeof builder !== 'object' || !Object.prototype.hasOwnProperty.call(builder, TOOL)) {
    throw new TypeError('tool builder method called on something that is not a tool builder');
  }
  return Object.assign({}, builder[TOOL]); // parameters are frozen, so sharing them is safe
}

function tool(name) {
  if (arguments.length < 1) throw new TypeError('tool(name) requires name');
  const trimmed = String(name).trim();
  if (trimmed === '') throw new TypeError('tool name must not be empty');
  return toolBuilder({ name: trimmed, description: '', parameters: null, handler: null });
}

// ---------------------------------------------------------------------------------- toolRegistry()
// add() and addGo() join the seed methods (register, useGoTools, list, call) on the one registry class.
RegistryProto.add = function add(spec) {
  methodOf(this, 'ToolRegistry', 'add');
  if (arguments.length < 1 || spec === undefined) throw new TypeError('toolRegistry.add requires tool spec');
  if (spec !== null && typeof spec === 'object' && Object.prototype.hasOwnProperty.call(spec, TOOL)) {
    const state = spec[TOOL];
    call('geppetto.registry.register', this, {
      name: state.name, description: state.description, handler: state.handler, parameters: state.parameters,
    });
    return this;
  }
  if (!isObject(spec)) throw new Error('tool name is required');
  const name = spec.name === undefined || spec.name === null ? '' : String(spec.name);
  if (name === '') throw new Error('tool name is required');
  if (typeof spec.handler !== 'function') throw new Error('tool ' + name + ' handler must be a function');
  const parameters = spec.parameters === undefined || spec.parameters === null ? null : schemaOf(spec.parameters);
  call('geppetto.registry.register', this, {
    name,
    description: spec.description === undefined || spec.description === null ? '' : String(spec.description),
    handler: spec.handler,
    parameters,
  });
  return this;
};

RegistryProto.addGo = function addGo(...names) {
  methodOf(this, 'ToolRegistry', 'addGo');
  const list = [];
  for (const n of names.flat()) {
    const s = n === undefined || n === null ? '' : String(n).trim();
    if (s !== '') list.push(s);
  }
  call('geppetto.registry.useHostTools', this, list);
  return this;
};

// addMCP({name, command, args, env, cwd, url, headers, include, exclude}): one mcpServers entry.
RegistryProto.addMCP = function addMCP(spec) {
  methodOf(this, 'ToolRegistry', 'addMCP');
  if (!isObject(spec)) throw new TypeError('toolRegistry.addMCP requires {name, command, args} or {name, url}');
  call('geppetto.registry.addMCP', this, spec);
  return this;
};

function toolRegistry() {
  return call('geppetto.tools.createRegistry');
}

exports.schema = schema;
exports.tool = tool;
exports.toolRegistry = toolRegistry;
