// Subscriber, Node.js: SQS batch -> one row per message in the DynamoDB table, duplicates turned into
// counted no-ops. The same contract as functions/subscriber/app.py, for teams whose Lambda code is Node:
// - TABLE_NAME (required): the table, key `id`; a conditional put (attribute_not_exists(id)) per record.
// - BACKEND_LATENCY_MS: simulated latency per write, the scale-limited backend stand-in (default 0).
// - FAIL_PATH_MARKER: fault injection, off when empty: a record whose path contains it always fails.
// Uses the AWS SDK for JavaScript v3 that Lambda's Node.js runtimes provide (nothing bundled) and partial
// batch responses (ReportBatchItemFailures). DynamoDB only: for PostgreSQL, bundle a client such as `pg`.
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';

const table = DynamoDBDocumentClient.from(new DynamoDBClient({}));

class PoisonRecord extends Error {}

function rowFor(record) {
  let message;
  try {
    message = JSON.parse(record.body);
  } catch (error) {
    throw new PoisonRecord(`not a webhook message: ${error.message}`);
  }
  if (!message || typeof message.id !== 'string' || typeof message.path !== 'string') {
    throw new PoisonRecord('not a webhook message: no id or path');
  }
  const marker = process.env.FAIL_PATH_MARKER || '';
  if (marker && message.path.includes(marker)) {
    throw new PoisonRecord(`fault injection: path '${message.path}' contains '${marker}'`);
  }
  const body = message.body || '';
  return {
    id: message.id,
    message: `hello from ${message.path}`,
    method: message.method ?? null,
    path: message.path,
    received_at_ms: message.received_at_ms ?? null,
    written_at_ms: Date.now(),
    sqs_message_id: record.messageId,
    receive_count: Number(record.attributes?.ApproximateReceiveCount ?? 1),
    body_bytes: Buffer.byteLength(body),
    body_sha256: createHash('sha256').update(body).digest('hex'),
  };
}

async function writeOnce(row) {
  const latency = Number(process.env.BACKEND_LATENCY_MS || 0);
  if (latency) await new Promise((resolve) => setTimeout(resolve, latency));
  try {
    await table.send(new PutCommand({
      TableName: process.env.TABLE_NAME, Item: row, ConditionExpression: 'attribute_not_exists(id)',
    }));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException || error.name === 'ConditionalCheckFailedException') {
      return false;
    }
    throw error;
  }
}

export const handler = async (event) => {
  const batchItemFailures = [];
  let written = 0;
  let duplicates = 0;
  for (const record of event.Records || []) {
    try {
      if (await writeOnce(rowFor(record))) written += 1;
      else duplicates += 1;
    } catch (error) {
      batchItemFailures.push({ itemIdentifier: record.messageId });
      console.error(JSON.stringify({ level: 'error', messageId: record.messageId, error: String(error) }));
    }
  }
  // One raw line per batch in CloudWatch embedded metric format (console.log would prefix it).
  process.stdout.write(`${JSON.stringify({
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [{
        Namespace: 'ScalableWebhook',
        Dimensions: [['FunctionName']],
        Metrics: [
          { Name: 'RowsWritten', Unit: 'Count' },
          { Name: 'DuplicatesSuppressed', Unit: 'Count' },
          { Name: 'RecordsFailed', Unit: 'Count' },
        ],
      }],
    },
    FunctionName: process.env.AWS_LAMBDA_FUNCTION_NAME || 'subscriber',
    RowsWritten: written,
    DuplicatesSuppressed: duplicates,
    RecordsFailed: batchItemFailures.length,
  })}\n`);
  return { batchItemFailures };
};
