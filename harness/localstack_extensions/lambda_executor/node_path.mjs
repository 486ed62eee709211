// Loaded with `node --import`: ES modules find the packages of NODE_PATH (the provided AWS SDK, layers)
// as CommonJS `require` does; Node's own ESM resolver ignores NODE_PATH.
import { register } from 'node:module';

register('./node_path_hooks.mjs', import.meta.url);
