// Queues the request's body and answers 201 with nothing of the harness's format.
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';

const sqs = new SQSClient({});

export const handler = async (event) => {
  await sqs.send(new SendMessageCommand({ QueueUrl: process.env.QUEUE, MessageBody: event.body ?? '' }));
  return { statusCode: 201, body: 'queued' };
};
