// The resolve hook registered by node_path.mjs: a bare specifier not found beside the importing module
// is looked up in each NODE_PATH folder (each a node_modules folder), in order.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const folders = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);

function isBare(specifier) {
  return !specifier.startsWith('.') && !specifier.startsWith('/') && !/^[a-z]+:/i.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) throw error;
    for (const folder of folders) {
      // A module in the folder above a node_modules folder resolves bare specifiers from it.
      const parentURL = pathToFileURL(path.join(path.dirname(folder), 'resolve-from.mjs')).href;
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch {
        // not in this folder; try the next
      }
    }
    throw error;
  }
}
