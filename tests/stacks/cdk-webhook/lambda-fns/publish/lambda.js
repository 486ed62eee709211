// Puts the request on the queue and answers in its own words (not the harness's {"id": ...}).
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');

const sqs = new SQSClient({});

exports.handler = async function (event) {
  const message = JSON.stringify({ path: event.path, body: event.body });
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl: process.env.queueURL, MessageBody: message }));
  return {
    statusCode: 200,
    headers: { 'Content-Type': 'text/plain' },
    body: `You have added a message to the queue! Message ID is ${sent.MessageId}`,
  };
};
