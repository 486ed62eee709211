'use strict';
// Loaded with `node --require` before the function: an HTTPS request for one of AWS's own host names
// (`dynamodb.us-east-1.amazonaws.com`, `sts.amazonaws.com`, ...) goes to the stack's endpoint instead, as
// plain HTTP with its Host header kept. The provided SDK v3 reads AWS_ENDPOINT_URL and never asks for such
// a name; an SDK the function bundles itself may not: the SDK for JavaScript v2 ignores the variable, and
// v3 releases before it do too. On AWS those names resolve to AWS; here, nothing leaves this machine.
const http = require('node:http');
const https = require('node:https');

const AWS_HOST = /(^|\.)amazonaws\.com(\.cn)?$/i;
const endpoint = process.env.AWS_ENDPOINT_URL ? new URL(process.env.AWS_ENDPOINT_URL) : null;

function hostOf(options) {
  return String(options.hostname || options.host || '').replace(/:\d+$/, '');
}

// https.request's two call shapes: (options[, callback]) and (url[, options][, callback]).
function normalise(args) {
  const [first, second, third] = args;
  if (typeof first === 'string' || first instanceof URL) {
    const url = new URL(first);
    const extra = second && typeof second === 'object' ? second : {};
    const options = { hostname: url.hostname, port: url.port, path: url.pathname + url.search, ...extra };
    return [options, typeof second === 'function' ? second : third];
  }
  return [{ ...first }, second];
}

if (endpoint && endpoint.protocol === 'http:') {
  const agent = new http.Agent({ keepAlive: true });
  const originalRequest = https.request;

  https.request = function request(...args) {
    const [options, callback] = normalise(args);
    const host = hostOf(options);
    if (!AWS_HOST.test(host)) return originalRequest.apply(this, args);
    const headers = { ...options.headers };
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'host')) headers.host = host;
    return http.request(
      { ...options, protocol: 'http:', host: endpoint.hostname, hostname: endpoint.hostname, port: endpoint.port || 80, headers, agent },
      callback,
    );
  };
  // https.get calls the module's own request, not the property: route it through the one above.
  https.get = function get(...args) {
    const outgoing = https.request(...args);
    outgoing.end();
    return outgoing;
  };
}
