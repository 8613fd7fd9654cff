// Registry profiles (the reference's current API): load a registry, look at the resolved settings,
// build an engine from them and run it with a session. Offline: the profile runs the echo engine.
//
//   geppetto js run examples/js/inference_profiles.js
//   geppetto js run examples/js/inference_profiles.js --profile-registries examples/js/registry.yaml --profile local
const gp = require("geppetto");

const registry = gp.inferenceProfiles.load(__dirname + "/registry.yaml");
console.log(registry.listRegistries());                 // [{slug: "examples", profile_count: 3, ...}]
console.log(registry.listProfiles().map((p) => p.slug)); // ["echo", "local", "openai"]

const settings = registry.resolve("echo");
const snapshot = settings.toJSON();                      // secrets would read "[REDACTED]"
console.log(snapshot.chat, snapshot.provenance.registrySlug, snapshot.provenance.profileSlug);

const engine = gp.engine().inference(settings).build();
console.log(engine.name, engine.metadata.profileSlug, engine.modelInfo.contextWindow);

const session = gp.createSession({ engine });
const out = session.run({ blocks: [{ kind: "user", payload: { text: "Say hello." } }] });
console.log(out.blocks.at(-1).payload.text);             // READY
registry.close();

// With --profile-registries/--profile (or PINOCCHIO_PROFILE_REGISTRIES), the host's registry:
try {
  const chosen = gp.inferenceProfiles.resolve();
  console.log("host profile:", chosen.toJSON().provenance.profileSlug);
} catch (err) {
  console.log(err.message);                              // ... requires a configured profile registry
}
