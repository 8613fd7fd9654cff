// ---- inference profiles and engine builder (reference HEAD): inferenceProfiles, InferenceRegistry,
// InferenceSettings, engine(). A thin mapping onto geppetto.profiles (js/module/profiles_api.py and
// engine_builder_api.py). isInferenceSettings(v) is the check every part uses for a settings wrapper.

function isInferenceSettings(v) {
  return host.isHostObject(v) && v[CLASS] === 'InferenceSettings';
}

const InferenceSettingsProto = {
  toJSON() {
    methodOf(this, 'InferenceSettings', 'toJSON');
    return call('geppetto.inferenceSettings.toJSON', this);
  },
  clone() {
    methodOf(this, 'InferenceSettings', 'clone');
    return call('geppetto.inferenceSettings.clone', this);
  },
  debug() {
    methodOf(this, 'InferenceSettings', 'debug');
    return call('geppetto.inferenceSettings.debug', this);
  },
  toString() { return '[InferenceSettings]'; },
};
hide(InferenceSettingsProto, CLASS, 'InferenceSettings');

const InferenceRegistryProto = {
  listRegistries() {
    methodOf(this, 'InferenceRegistry', 'listRegistries');
    return call('geppetto.inferenceRegistry.listRegistries', this);
  },
  listProfiles(registrySlug) {
    methodOf(this, 'InferenceRegistry', 'listProfiles');
    return call('geppetto.inferenceRegistry.listProfiles', this, registrySlug ?? null);
  },
  resolve(input) {
    methodOf(this, 'InferenceRegistry', 'resolve');
    return call('geppetto.inferenceRegistry.resolve', this, input ?? null);
  },
  close() {
    methodOf(this, 'InferenceRegistry', 'close');
    call('geppetto.inferenceRegistry.close', this);
  },
};
hide(InferenceRegistryProto, CLASS, 'InferenceRegistry');

host.setPrototype('InferenceSettings', InferenceSettingsProto);
host.setPrototype('InferenceRegistry', InferenceRegistryProto);

const inferenceProfiles = {
  load(source) {
    if (source === undefined || source === null) {
      throw new TypeError('inferenceProfiles.load requires registry source string or string array');
    }
    return call('geppetto.inferenceProfiles.load', source);
  },
  resolve(input) { return call('geppetto.inferenceProfiles.resolve', input ?? null); },
  default() { return call('geppetto.inferenceProfiles.default'); },
};

// engine(): an immutable builder; each inference(...) returns a new one.
function engineBuilder(settings) {
  return Object.freeze({
    inference(s) {
      if (!isInferenceSettings(s)) {
        throw new TypeError('engine().inference requires a registry-resolved InferenceSettings wrapper');
      }
      return engineBuilder(s);
    },
    build() {
      if (settings === undefined) throw new Error('engine().build requires inference(settings) first');
      return call('geppetto.engine.build', settings);
    },
  });
}

exports.inferenceProfiles = Object.freeze(inferenceProfiles);
exports.engine = function engine() { return engineBuilder(undefined); };
