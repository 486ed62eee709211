// Behaves as the reference stack's publisher does: the v2 SDK, a 10 s delay, the id in a message attribute
// made of the path and the time, and a callback *and* .promise() on one request, which sends it twice.
// One change, for the test's sake: the clock ticks every second instead of every millisecond, so the ids'
// collisions show at a load its 5-WCU table can take.
const AWS = require('aws-sdk');

const answer = (statusCode, body) => ({ statusCode, headers: { 'Content-Type': 'text/html' }, body });

exports.handler = async (event) => {
  console.log('request:', JSON.stringify(event));
  const sqs = new AWS.SQS({ apiVersion: '2012-11-05' });
  const tick = Math.floor(Date.now() / 1000) * 1000;
  const params = {
    DelaySeconds: 10,
    MessageAttributes: { MessageDeduplicationId: { DataType: 'String', StringValue: event.path + tick } },
    MessageBody: `hello from ${event.path}`,
    QueueUrl: process.env.queueURL,
  };
  let response;
  await sqs.sendMessage(params, (error, data) => {
    response = error ? answer(500, String(error)) : answer(200, `queued as ${data.MessageId}`);
  }).promise();
  return response;
};
