// One row per SQS message, keeping the request's body (what API Gateway put on the queue).
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';

const dynamodb = new DynamoDBClient({});

export const handler = async (event) => {
  for (const record of event.Records) {
    await dynamodb.send(
      new PutItemCommand({
        TableName: process.env.TABLE,
        Item: { id: { S: record.messageId }, body: { S: record.body } },
        ConditionExpression: 'attribute_not_exists(id)',
      }),
    ).catch((error) => {
      if (error.name !== 'ConditionalCheckFailedException') throw error;
    });
  }
};
