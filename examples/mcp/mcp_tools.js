// MCP tools in a script, offline: a function engine plays the model. It asks for calc_add
// (the example server's "add", prefixed by the server's name), then answers with the result.
//
// Run from the repository root:
//   .venv/bin/geppetto js run examples/mcp/mcp_tools.js --no-store
// (the server can also come from the command line: --mcp-config examples/mcp/mcp.json, and
// toolRegistry().useHostTools() then picks its tools up).
const gp = require("geppetto");

const registry = gp.toolRegistry().addMCP({
  name: "calc",
  command: ".venv/bin/python",
  args: ["examples/mcp/server.py"],
  exclude: ["word_count"],
});
console.log("tools:", registry.list().map((t) => t.name).join(", "));

const model = gp.engines.fromFunction((turn) => {
  const used = turn.blocks.filter((b) => b.kind === "tool_use");
  if (used.length) {
    turn.blocks.push(gp.turns.newAssistantBlock("2 + 40: " + used[0].payload.result));
  } else {
    turn.blocks.push(gp.turns.newToolCallBlock("call-1", "calc_add", { a: 2, b: 40 }));
  }
  return turn;
});

const session = gp.createSession({ engine: model, tools: registry, toolLoop: { maxIterations: 3 } });
const out = session.run({ blocks: [gp.turns.newUserBlock("What is 2 + 40?")] });
console.log(out.blocks[out.blocks.length - 1].payload.text);
