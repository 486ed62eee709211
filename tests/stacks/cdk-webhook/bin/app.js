#!/usr/bin/env node
// A webhook stack written the way the reference CDK stack (cdk-patterns "the-scalable-webhook") is written,
// in CDK v2 and plain JavaScript: nothing in it knows about the harness.
const path = require('path');
const cdk = require('aws-cdk-lib');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const sqs = require('aws-cdk-lib/aws-sqs');
const lambda = require('aws-cdk-lib/aws-lambda');
const apigw = require('aws-cdk-lib/aws-apigateway');
const { SqsEventSource } = require('aws-cdk-lib/aws-lambda-event-sources');

class TheScalableWebhookStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);

    // The scale-limited backend (RDS in the pattern, DynamoDB here): provisioned 5/5.
    const table = new dynamodb.Table(this, 'Messages', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PROVISIONED,
      readCapacity: 5,
      writeCapacity: 5,
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });

    const queue = new sqs.Queue(this, 'RDSPublishQueue', {
      visibilityTimeout: cdk.Duration.seconds(300),
    });

    const publish = new lambda.Function(this, 'SQSPublishLambdaHandler', {
      runtime: lambda.Runtime.NODEJS_22_X,
      code: lambda.Code.fromAsset(path.join(__dirname, '..', 'lambda-fns', 'publish')),
      handler: 'lambda.handler',
      environment: { queueURL: queue.queueUrl },
    });
    queue.grantSendMessages(publish);

    const subscribe = new lambda.Function(this, 'SQSSubscribeLambdaHandler', {
      runtime: lambda.Runtime.NODEJS_22_X,
      code: lambda.Code.fromAsset(path.join(__dirname, '..', 'lambda-fns', 'subscribe')),
      handler: 'lambda.handler',
      reservedConcurrentExecutions: 2, // the throttle
      environment: { queueURL: queue.queueUrl, tableName: table.tableName },
    });
    queue.grantConsumeMessages(subscribe);
    subscribe.addEventSource(new SqsEventSource(queue, { batchSize: 10 }));
    table.grantReadWriteData(subscribe);

    new apigw.LambdaRestApi(this, 'Endpoint', { handler: publish });
  }
}

const app = new cdk.App();
new TheScalableWebhookStack(app, 'TheScalableWebhookStack');
