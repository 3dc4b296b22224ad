import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type Storage, StorageNotFoundError } from './storage.ts';

export interface S3StorageOptions {
  bucket: string;
  region: string;
  /** S3-compatible endpoint (MinIO, R2, …); unset = AWS for `region`. */
  endpoint?: string;
  /** Endpoint written into presigned download URLs (what clients can reach); default `endpoint`. */
  publicEndpoint?: string;
  /** Static credentials; unset = the SDK's default chain (env, instance or pod role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and s3rver need; default false. */
  forcePathStyle?: boolean;
  /** Milliseconds to open a connection; default 5,000. */
  connectTimeoutMs?: number;
  /**
   * Milliseconds one request may take until the response headers arrive (including sending
   * one multipart part), and the longest a socket may sit idle mid-body; default 60,000.
   */
  requestTimeoutMs?: number;
  /** Multipart part size in bytes (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts in flight at once (default 4): peak upload memory is about partSize × queueSize. */
  queueSize?: number;
  /** Keys per DeleteObjects request (default 1,000, S3's maximum). */
  deleteBatchSize?: number;
}

export interface S3Storage extends Storage {
  readonly client: S3Client;
  /** Closes the client's sockets. */
  close(): void;
}

/** Multipart part size when `partSize` is unset (S3's minimum is 5 MiB). */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Parts in flight when `queueSize` is unset. */
export const DEFAULT_QUEUE_SIZE = 4;

const SHA256_META = 'sha256';
/** List-and-delete passes `deletePrefix` makes before it gives up. */
const DELETE_ROUNDS = 5;

/** GetObject's NoSuchKey, HeadObject's NotFound, or any S3 answer of 404 (a HEAD has no error body). */
function isNotFound(err: unknown): boolean {
  return (
    err instanceof NoSuchKey ||
    err instanceof NotFound ||
    (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)
  );
}

function s3Client(o: S3StorageOptions, endpoint: string | undefined): S3Client {
  const timeout = o.requestTimeoutMs ?? 60_000;
  return new S3Client({
    region: o.region,
    endpoint,
    forcePathStyle: o.forcePathStyle ?? false,
    credentials: o.credentials,
    // Checksums only where the API demands them: several S3-compatible servers reject the
    // default streaming (aws-chunked) trailers. Integrity is checked by `storage:migrate`.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: o.connectTimeoutMs ?? 5_000,
      requestTimeout: timeout,
      // Without this a breached requestTimeout only logs a warning.
      throwOnRequestTimeout: true,
      socketTimeout: timeout,
    }),
  });
}

/**
 * Storage in an S3 bucket under the same `tenants/<id>/…` keys as the local store. Uploads stream
 * through `@aws-sdk/lib-storage` (multipart past one part), so memory stays flat for any file
 * size; a PUT is atomic, so readers never see half an object. Every call has a connect and a
 * request timeout.
 */
export function createS3Storage(o: S3StorageOptions): S3Storage {
  const client = s3Client(o, o.endpoint);
  const signer = o.publicEndpoint && o.publicEndpoint !== o.endpoint ? s3Client(o, o.publicEndpoint) : client;
  const Bucket = o.bucket;
  const batchSize = o.deleteBatchSize ?? 1000;

  const listAll = async (prefix: string) => {
    const out: Array<{ key: string; bytes: number }> = [];
    for await (const page of paginateListObjectsV2({ client }, { Bucket, Prefix: prefix })) {
      for (const obj of page.Contents ?? []) {
        if (obj.Key) out.push({ key: obj.Key, bytes: Number(obj.Size ?? 0) });
      }
    }
    return out;
  };

  const getBody = async (key: string): Promise<Readable> => {
    try {
      const res = await client.send(new GetObjectCommand({ Bucket, Key: key }));
      if (!(res.Body instanceof Readable)) throw new Error('S3 returned no body stream');
      return res.Body;
    } catch (err) {
      if (isNotFound(err)) throw new StorageNotFoundError(key);
      throw err;
    }
  };

  return {
    client,
    async putFile(key, localPath, opts) {
      const upload = new Upload({
        client,
        params: {
          Bucket,
          Key: key,
          Body: createReadStream(localPath),
          Metadata: opts?.sha256 ? { [SHA256_META]: opts.sha256 } : undefined,
        },
        partSize: o.partSize ?? DEFAULT_PART_SIZE,
        queueSize: o.queueSize ?? DEFAULT_QUEUE_SIZE,
        leavePartsOnError: false,
      });
      await upload.done();
      const head = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
      return { bytes: Number(head.ContentLength ?? 0) };
    },
    async putBuffer(key, data) {
      await client.send(new PutObjectCommand({ Bucket, Key: key, Body: data, ContentLength: data.length }));
      return { bytes: data.length };
    },
    async stat(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        const sha256 = head.Metadata?.[SHA256_META];
        return { bytes: Number(head.ContentLength ?? 0), ...(sha256 ? { sha256 } : {}) };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    read: getBody,
    async download(key, localPath) {
      await pipeline(await getBody(key), createWriteStream(localPath));
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },
    async deletePrefix(prefix) {
      // Listed first, deleted after (deleting while paginating could skip keys), and listed
      // again until nothing is left: an object written meanwhile (a job finishing during an
      // account deletion) or a batch the server failed is caught by the next round.
      const seen = new Set<string>();
      let lastError: unknown;
      for (let round = 0; round < DELETE_ROUNDS; round++) {
        const keys = (await listAll(prefix)).map((obj) => obj.key);
        if (keys.length === 0) return seen.size;
        for (const k of keys) seen.add(k);
        for (let i = 0; i < keys.length; i += batchSize) {
          const batch = keys.slice(i, i + batchSize);
          try {
            const res = await client.send(
              new DeleteObjectsCommand({
                Bucket,
                Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
              }),
            );
            if (res.Errors?.length)
              lastError = new Error(`S3 refused to delete ${res.Errors.length} object(s)`);
          } catch (err) {
            lastError = err;
          }
        }
      }
      throw new Error(`objects are left under ${prefix} after ${DELETE_ROUNDS} rounds of deletes`, {
        cause: lastError,
      });
    },
    list: listAll,
    localPath: () => null,
    async presignedUrl(key, opts) {
      return getSignedUrl(
        signer,
        new GetObjectCommand({
          Bucket,
          Key: key,
          ResponseContentType: opts.contentType,
          ResponseContentDisposition: `attachment; filename="${opts.filename}"`,
          ResponseCacheControl: 'private, no-store',
        }),
        { expiresIn: opts.ttlSeconds },
      );
    },
    close() {
      client.destroy();
      if (signer !== client) signer.destroy();
    },
  };
}
