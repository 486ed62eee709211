// One call per service the harness exposes, with the newest AWS SDK for JavaScript v3 clients from npm.
// Usage: node smoke.mjs ENDPOINT TOPOLOGY_JSON -> prints {service: what it answered} as JSON.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [endpoint, topologyJson, modules] = process.argv.slice(2);
const topology = JSON.parse(topologyJson);
const require = createRequire(pathToFileURL(`${modules}/`));
const config = { endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } };
const sdk = (name) => require(`@aws-sdk/client-${name}`);
const client = (name, Client, extra = {}) => new (sdk(name)[Client])({ ...config, ...extra });
const short = () => randomUUID().slice(0, 8);
const minutesAgo = (n) => new Date(Date.now() - n * 60_000);
const subscriber = [{ Name: "FunctionName", Value: topology.subscriber_name }];

async function cloudwatch() {
  const cw = sdk("cloudwatch");
  const c = client("cloudwatch", "CloudWatchClient");
  const listed = await c.send(new cw.ListMetricsCommand({ Namespace: "AWS/Lambda" }));
  const stats = await c.send(new cw.GetMetricStatisticsCommand({
    Namespace: "AWS/Lambda", MetricName: "ConcurrentExecutions", Dimensions: subscriber,
    StartTime: minutesAgo(30), EndTime: minutesAgo(-1), Period: 3600, Statistics: ["Maximum"],
  }));
  const throttles = await c.send(new cw.GetMetricDataCommand({
    MetricDataQueries: [{ Id: "throttles", MetricStat: { Metric: { Namespace: "AWS/Lambda", MetricName: "Throttles", Dimensions: subscriber }, Period: 3600, Stat: "Sum" } }],
    StartTime: minutesAgo(30), EndTime: minutesAgo(-1),
  }));
  const namespace = `Compat/${short()}`;
  await c.send(new cw.PutMetricDataCommand({ Namespace: namespace, MetricData: [{ MetricName: "Orders", Value: 7 }] }));
  const own = await c.send(new cw.ListMetricsCommand({ Namespace: namespace }));
  let missingDashboard = null;
  try { await c.send(new cw.GetDashboardCommand({ DashboardName: namespace })); } catch (error) { missingDashboard = error.Code ?? error.name; }
  return {
    lambda_metric_names: [...new Set(listed.Metrics.filter((m) => m.Dimensions.some((d) => d.Value === topology.subscriber_name)).map((m) => m.MetricName))].sort(),
    concurrent_executions_max: stats.Datapoints[0]?.Maximum ?? null,
    throttles_sum: throttles.MetricDataResults[0].Values.reduce((a, b) => a + b, 0),
    own_metric: own.Metrics.map((m) => m.MetricName),
    missing_dashboard_error: missingDashboard,
  };
}

async function sqs() {
  const m = sdk("sqs");
  const c = client("sqs", "SQSClient");
  const { QueueUrl } = await c.send(new m.CreateQueueCommand({ QueueName: `compat-${short()}` }));
  await c.send(new m.SendMessageCommand({ QueueUrl, MessageBody: "hello" }));
  const received = await c.send(new m.ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
  await c.send(new m.DeleteQueueCommand({ QueueUrl }));
  return { body: received.Messages[0].Body };
}

async function s3() {
  const m = sdk("s3");
  const c = client("s3", "S3Client", { forcePathStyle: true });
  const Bucket = `compat-${short()}`;
  await c.send(new m.CreateBucketCommand({ Bucket }));
  await c.send(new m.PutObjectCommand({ Bucket, Key: "k", Body: "payload" }));
  const body = await (await c.send(new m.GetObjectCommand({ Bucket, Key: "k" }))).Body.transformToString();
  await c.send(new m.DeleteObjectCommand({ Bucket, Key: "k" }));
  await c.send(new m.DeleteBucketCommand({ Bucket }));
  return { body };
}

async function secretsmanager() {
  const m = sdk("secrets-manager");
  const c = client("secrets-manager", "SecretsManagerClient");
  const Name = `compat-${short()}`;
  await c.send(new m.CreateSecretCommand({ Name, SecretString: "s3cret" }));
  const { SecretString } = await c.send(new m.GetSecretValueCommand({ SecretId: Name }));
  await c.send(new m.DeleteSecretCommand({ SecretId: Name, ForceDeleteWithoutRecovery: true }));
  return { value: SecretString };
}

const calls = {
  cloudwatch,
  sqs,
  dynamodb: async () => ({ rows: (await client("dynamodb", "DynamoDBClient").send(new (sdk("dynamodb").ScanCommand)({ TableName: topology.table_name, Select: "COUNT" }))).Count }),
  lambda: async () => ({ reserved: (await client("lambda", "LambdaClient").send(new (sdk("lambda").GetFunctionCommand)({ FunctionName: topology.subscriber_name }))).Concurrency.ReservedConcurrentExecutions }),
  apigateway: async () => ({ name: (await client("api-gateway", "APIGatewayClient").send(new (sdk("api-gateway").GetRestApiCommand)({ restApiId: topology.api_id }))).name }),
  logs: async () => ({ events: (await client("cloudwatch-logs", "CloudWatchLogsClient").send(new (sdk("cloudwatch-logs").FilterLogEventsCommand)({ logGroupName: `/aws/lambda/${topology.subscriber_name}`, limit: 5 }))).events.length }),
  cloudformation: async () => ({ stacks: (await client("cloudformation", "CloudFormationClient").send(new (sdk("cloudformation").ListStacksCommand)({}))).StackSummaries.length }),
  s3,
  secretsmanager,
  sts: async () => ({ account: (await client("sts", "STSClient").send(new (sdk("sts").GetCallerIdentityCommand)({}))).Account }),
};

const version = JSON.parse(readFileSync(`${modules}/node_modules/@aws-sdk/client-cloudwatch/package.json`)).version;
const results = { sdk: `@aws-sdk/client-cloudwatch ${version}` };
for (const [service, call] of Object.entries(calls)) {
  try {
    results[service] = await call();
  } catch (error) {
    results[service] = { error: `${error.name}: ${error.message}` };
  }
}
console.log(JSON.stringify(results));
