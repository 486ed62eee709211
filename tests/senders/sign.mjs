// Signs a delivery with the sender's own library, as a real sender would: prints the headers as JSON.
// Usage: node sign.mjs SCHEME SECRET DELIVERY_ID BODY_FILE
import { readFileSync } from "node:fs";
import { sign as githubSign } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";

const [scheme, secret, deliveryId, bodyFile] = process.argv.slice(2);
const body = readFileSync(bodyFile, "utf8");
let headers;
if (scheme === "standard") {
  const now = new Date();
  headers = {
    "webhook-id": deliveryId,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(deliveryId, now, body),
  };
} else if (scheme === "github") {
  headers = { "X-GitHub-Delivery": deliveryId, "X-Hub-Signature-256": await githubSign(secret, body) };
} else if (scheme === "stripe") {
  const stripe = new Stripe("sk_test_unused");
  headers = { "Stripe-Signature": stripe.webhooks.generateTestHeaderString({ payload: body, secret }) };
} else {
  throw new Error(`unknown scheme ${scheme}`);
}
console.log(JSON.stringify(headers));
