import S3rver from 's3rver';

/**
 * Runs s3rver for the tests in a process of its own, started with --openssl-legacy-provider:
 * s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its
 * legacy provider. Args: <directory> <bucket>. Prints `{"port":N}` once listening; exits when
 * its stdin closes (the test process ended, however it ended) or on SIGTERM.
 */
const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) throw new Error('usage: s3rver-main <directory> <bucket>');
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: process.env.S3RVER_LOG !== '1',
  directory,
  configureBuckets: [{ name: bucket }],
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
const stop = () => {
  server.close().finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
