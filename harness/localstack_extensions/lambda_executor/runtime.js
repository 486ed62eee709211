'use strict';
// The Lambda Node.js runtime inside one execution environment (one OS process): this project's own, not
// AWS's code. Started by the executor as `node runtime.js REQUEST_FD RESPONSE_FD` and speaking runtime.py's
// protocol: length-prefixed JSON frames over two inherited pipes. First {type: "ready", init_ms} or
// {type: "init_error", error}, then one {type: "result", ok, payload, duration_ms, max_memory_mb} per request.
// What the function logs is written at once, synchronously, to stdout (a file the executor reads after each
// result), so nothing logged is lost when the process is killed mid-invocation. EOF on the request pipe
// (the executor or LocalStack is gone) ends the process.

const asyncHooks = require('node:async_hooks');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const util = require('node:util');
const { pathToFileURL } = require('node:url');

const [requestFd, responseFd] = process.argv.slice(2).map(Number);

// --- framing -------------------------------------------------------------------------------------------

function writeFrame(message) {
  const body = Buffer.from(JSON.stringify(message));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  const data = Buffer.concat([header, body]);
  let offset = 0;
  while (offset < data.length) offset += fs.writeSync(responseFd, data, offset);
}

function frameReader(onFrame) {
  let pending = Buffer.alloc(0);
  // A pipe handle on the event loop, not fs reads: a blocking read in libuv's thread pool would keep
  // process.exit() from ending the process.
  const stream = new net.Socket({ fd: requestFd, readable: true, writable: false });
  stream.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
      const length = pending.readUInt32BE(0);
      onFrame(JSON.parse(pending.subarray(4, 4 + length).toString()));
      pending = pending.subarray(4 + length);
    }
  });
  stream.on('end', () => process.exit(0));
  stream.on('error', () => process.exit(0));
  return stream;
}

// --- logs: console.* as AWS's Node runtime writes them, straight to the log file -----------------------

let requestId;

function writeLog(text) {
  fs.writeSync(1, text);
}

function emit(level, args) {
  writeLog(`${new Date().toISOString()}\t${requestId}\t${level}\t${util.format(...args)}\n`);
}

for (const [method, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'],
  ['debug', 'DEBUG'], ['trace', 'TRACE']]) {
  console[method] = (...args) => emit(level, args);
}
for (const stream of [process.stdout, process.stderr]) {
  stream.write = (chunk, encoding, callback) => {
    writeLog(typeof chunk === 'string' ? chunk : Buffer.from(chunk));
    if (typeof encoding === 'function') encoding();
    else if (typeof callback === 'function') callback();
    return true;
  };
}

// --- errors, as AWS's Node runtime reports them ------------------------------------------------------------

function errorOf(error, errorType) {
  if (!(error instanceof Error)) {
    return { errorType: errorType || 'Error', errorMessage: typeof error === 'string' ? error : JSON.stringify(error), trace: [] };
  }
  return {
    errorType: errorType || error.name || 'Error',
    errorMessage: error.message,
    trace: String(error.stack || '').split('\n'),
  };
}

class InitError extends Error {
  constructor(errorType, message, cause) {
    super(message);
    this.lambdaError = { errorType, errorMessage: message, trace: cause ? errorOf(cause).trace : [] };
  }
}

// --- loading the handler ------------------------------------------------------------------------------------

// AWS's words: from nodejs24.x on, a handler declaring a third (callback) parameter fails at init.
const CALLBACK_REMOVED = 'ERROR: AWS Lambda has removed support for callback-based function handlers starting with '
  + 'Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. '
  + 'For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

function isModuleNotFound(error) {
  return error && (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND');
}

function packageType(directory) {
  for (let folder = directory; ; folder = path.dirname(folder)) {
    try {
      return JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')).type || 'commonjs';
    } catch (error) {
      if (error.code !== 'ENOENT' && error.code !== 'ENOTDIR') return 'commonjs';
    }
    if (path.dirname(folder) === folder) return 'commonjs';
  }
}

async function loadModule(taskRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleName);
  const file = ['.js', '.mjs', '.cjs'].map((extension) => base + extension).find((name) => fs.existsSync(name));
  if (file && (file.endsWith('.mjs') || (file.endsWith('.js') && packageType(path.dirname(file)) === 'module'))) {
    return import(pathToFileURL(file).href);
  }
  try {
    return require(file || base);
  } catch (error) {
    if (error.code === 'ERR_REQUIRE_ESM' && file) return import(pathToFileURL(file).href);
    throw error;
  }
}

async function loadHandler(spec, taskRoot) {
  const match = /^([^.]*)\.(.+)$/.exec(path.basename(spec));
  if (!match) throw new InitError('Runtime.MalformedHandlerName', `Bad handler ${spec}`);
  const moduleName = path.join(path.dirname(spec), match[1]);
  let module;
  try {
    module = await loadModule(taskRoot, moduleName);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new InitError('Runtime.UserCodeSyntaxError', `${error.name}: ${error.message}`, error);
    }
    if (isModuleNotFound(error)) {
      throw new InitError('Runtime.ImportModuleError', `Error: ${error.message.split('\n')[0]}`, error);
    }
    throw Object.assign(error, { lambdaError: errorOf(error) });
  }
  let handler = module;
  for (const part of match[2].split('.')) handler = handler == null ? undefined : handler[part];
  if (typeof handler !== 'function') {
    throw new InitError('Runtime.HandlerNotFound', `${moduleName}.${match[2]} is undefined or not exported`);
  }
  const major = Number((/nodejs(\d+)/.exec(process.env.AWS_EXECUTION_ENV || '') || [])[1]);
  if (major >= 24 && handler.length >= 3) throw new InitError('Runtime.CallbackHandlerDeprecated', CALLBACK_REMOVED);
  return handler;
}

// --- "the event loop is empty": resources the invocation created, still open -----------------------------

const openResources = new Set();
let tracking = false;
asyncHooks.createHook({
  init(id, type) {
    if (tracking && type !== 'PROMISE') openResources.add(id);
  },
  destroy(id) {
    openResources.delete(id);
  },
}).enable();

function eventLoopEmpty() {
  return new Promise((resolve) => {
    const check = () => {
      tracking = false;
      if (openResources.size === 0) resolve();
      else setTimeout(check, 2).unref();
    };
    check();
  });
}

// --- invocations -------------------------------------------------------------------------------------------

function contextFor(request) {
  const deadline = request['deadline-ms'];
  return {
    awsRequestId: request['invoke-id'],
    invokedFunctionArn: request['invoked-function-arn'],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(deadline - Date.now())),
  };
}

function run(handler, event, context) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (error, result) => {
      if (!settled) {
        settled = true;
        resolve({ error, result });
      }
    };
    const callback = (error, result) => {
      if (context.callbackWaitsForEmptyEventLoop) eventLoopEmpty().then(() => finish(error, result));
      else finish(error, result);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (error) => callback(error == null ? 'handled' : error);
    openResources.clear(); // what this invocation opens counts; what earlier ones left open does not
    tracking = true;
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === 'function') {
        returned.then((result) => finish(null, result), (error) => finish(error == null ? new Error('undefined') : error));
      } else if (handler.length < 3) {
        // A handler that neither returns a promise nor takes a callback: AWS answers null once the loop is empty.
        eventLoopEmpty().then(() => finish(null, null));
      }
    } catch (error) {
      finish(error);
    }
  });
}

function maxMemoryMb() {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

async function serve() {
  const queue = [];
  let wake = null;
  const reader = frameReader((request) => {
    queue.push(request);
    if (wake) wake();
  });
  process.on('unhandledRejection', (reason) => {
    const error = errorOf(reason, 'Runtime.UnhandledPromiseRejection');
    writeLog(`${new Date().toISOString()}\t${requestId}\tERROR\t${JSON.stringify(error)}\n`);
    process.exit(128);
  });

  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || '', process.env.LAMBDA_TASK_ROOT || process.cwd());
  } catch (error) {
    writeFrame({ type: 'init_error', error: error.lambdaError || errorOf(error) });
    process.exit(1);
  }
  writeFrame({ type: 'ready', init_ms: process.uptime() * 1000 });

  for (;;) {
    if (queue.length === 0) await new Promise((resolve) => { wake = resolve; });
    wake = null;
    const request = queue.shift();
    reader.pause(); // its pending read predates the invocation, so it never counts as the invocation's
    requestId = request['invoke-id'];
    process.env._X_AMZN_TRACE_ID = request['trace-id'] || '';
    const began = process.hrtime.bigint();
    const { error, result } = await run(handler, JSON.parse(request.payload || 'null'), contextFor(request));
    tracking = false;
    let payload;
    let ok = error == null;
    if (ok) {
      try {
        payload = JSON.stringify(result === undefined ? null : result);
      } catch (marshal) {
        ok = false;
        payload = JSON.stringify({ errorType: 'Runtime.MarshalError', errorMessage: `Unable to stringify response body: ${marshal.message}`, trace: [] });
      }
    } else {
      const reported = errorOf(error);
      writeLog(`${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify(reported)}\n`);
      payload = JSON.stringify(reported);
    }
    writeFrame({
      type: 'result', ok, payload,
      duration_ms: Number(process.hrtime.bigint() - began) / 1e6, max_memory_mb: maxMemoryMb(),
    });
    reader.resume();
  }
}

serve();
