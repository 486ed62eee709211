// Writes each message as a row keyed by the SQS message id: a redelivered message overwrites its own row.
const { DynamoDBClient, PutItemCommand } = require('@aws-sdk/client-dynamodb');

const dynamodb = new DynamoDBClient({});

exports.handler = async function (event) {
  for (const record of event.Records) {
    const { path } = JSON.parse(record.body);
    await dynamodb.send(
      new PutItemCommand({
        TableName: process.env.tableName,
        Item: { id: { S: record.messageId }, message: { S: `hello from ${path}` } },
      }),
    );
  }
};
