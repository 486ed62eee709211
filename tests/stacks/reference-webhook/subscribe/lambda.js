// Behaves as the reference stack's subscriber does: the v2 SDK, the row keyed by the message attribute
// (a put overwrites any row of the same id), and a callback *and* .promise() on each put: two writes.
const { DynamoDB } = require('aws-sdk');

exports.handler = async (event) => {
  const dynamo = new DynamoDB();
  for (const record of event.Records) {
    console.log(`received message ${record.body}`);
    const id = record.messageAttributes.MessageDeduplicationId.stringValue;
    const params = { TableName: process.env.tableName, Item: { id: { S: id }, message: { S: record.body } } };
    await dynamo.putItem(params, (error) => {
      if (error) console.log('Error', error);
    }).promise();
  }
};
