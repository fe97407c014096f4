/**
 * s3rver in a process of its own, on 127.0.0.1: `node --openssl-legacy-provider
 * s3rver-process.ts <directory>` prints `{"port": n}` on its first stdout line and serves until
 * stdin closes or it gets SIGTERM.
 *
 * Why a process: s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3
 * (Node ≥ 17) refuses unless the legacy provider is loaded — without it every truncated listing
 * answers 500. The flag can only be given when a process starts. A separate process also keeps
 * the server's work off the event loop of the code being measured (benchmarks).
 */
import S3rver from 's3rver';

const directory = process.argv[2];
if (!directory) {
  process.stderr.write('usage: s3rver-process.ts <directory>\n');
  process.exit(2);
}
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
const addr = await server.run();
process.stdout.write(JSON.stringify({ port: addr.port }) + '\n');
const stop = async () => {
  await server.close().catch(() => {});
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
