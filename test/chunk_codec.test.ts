import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { fastChunkSerializer, varint } from '../worker/collective/chunk_codec.js';

test('fast RingChunk serializer writes the same bytes as proto-loader, and they decode back', () => {
  const relay = loadProtos().grpc.dsi.v1.Collective.service.Relay;
  const fast = fastChunkSerializer(relay.responseSerialize);
  for (const size of [1, 127, 128, 300_001]) {
    const data = Buffer.from(Array.from({ length: size }, (_, i) => (i * 31) & 0xff));
    const chunk = {
      runId: 'run-7', ringEpoch: 3, step: 4_000_000_000, phase: 'RING_PHASE_ALL_GATHER' as const, ringPosition: 2,
      hop: 1, segment: 3, chunkIndex: 9, dtype: 'WIRE_DTYPE_BF16' as const, elementCount: size, nonfinite: true, bucket: 5, data,
    };
    const bytes = fast(chunk);
    assert.deepEqual(bytes, relay.responseSerialize(chunk), `size ${size}`);
    const back = relay.responseDeserialize(bytes);
    assert.deepEqual({ ...back, data: Buffer.from(back.data) }, chunk);
  }
});

test('varint matches protobuf examples', () => {
  assert.deepEqual([...varint(1)], [0x01]);
  assert.deepEqual([...varint(300)], [0xac, 0x02]);
  assert.deepEqual([...varint(4 * 1024 * 1024)], [0x80, 0x80, 0x80, 0x02]);
});
