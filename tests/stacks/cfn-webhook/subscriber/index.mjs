// Counts deliveries: one row per SQS message, keeping nothing of the request itself.
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';

const dynamodb = new DynamoDBClient({});

export const handler = async (event) => {
  for (const record of event.Records) {
    await dynamodb.send(
      new PutItemCommand({
        TableName: process.env.TABLE,
        Item: { id: { S: record.messageId }, receivedAt: { N: String(Date.now()) } },
      }),
    );
  }
};
