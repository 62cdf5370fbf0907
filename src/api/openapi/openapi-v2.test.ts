import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { buildOpenApiV2, encodeOpenApiV2Protobuf, EMPTY_OPENAPI_V2_PROTOBUF } from './openapi-v2.js';

// The gnostic messages kube-openapi reads, written from OpenAPIv2.proto for this test only:
// an independent decoder of what the encoder produced.
const gnostic = protobuf
  .parse(
    `
syntax = "proto3";
package openapi.v2;
message Any { bytes value = 1; string yaml = 2; }
message NamedAny { string name = 1; Any value = 2; }
message Info { string title = 1; string version = 2; }
message TypeItem { repeated string value = 1; }
message ItemsItem { repeated Schema schema = 1; }
message AdditionalPropertiesItem { oneof oneof { Schema schema = 1; bool boolean = 2; } }
message NamedSchema { string name = 1; Schema value = 2; }
message Properties { repeated NamedSchema additional_properties = 1; }
message Schema {
  string _ref = 1; string format = 2; string title = 3; string description = 4;
  repeated string required = 19; repeated Any enum = 20;
  AdditionalPropertiesItem additional_properties = 21; TypeItem type = 22; ItemsItem items = 23;
  repeated Schema all_of = 24; Properties properties = 25; repeated NamedAny vendor_extension = 31;
}
message Definitions { repeated NamedSchema additional_properties = 1; }
message QueryParameterSubSchema { bool required = 1; string in = 2; string description = 3; string name = 4; string type = 6; }
message PathParameterSubSchema { bool required = 1; string in = 2; string description = 3; string name = 4; string type = 5; }
message NonBodyParameter { oneof oneof { QueryParameterSubSchema query_parameter_sub_schema = 3; PathParameterSubSchema path_parameter_sub_schema = 4; } }
message BodyParameter { string description = 1; string name = 2; string in = 3; bool required = 4; Schema schema = 5; }
message Parameter { oneof oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }
message ParametersItem { oneof oneof { Parameter parameter = 1; } }
message SchemaItem { oneof oneof { Schema schema = 1; } }
message Response { string description = 1; SchemaItem schema = 2; }
message ResponseValue { oneof oneof { Response response = 1; } }
message NamedResponseValue { string name = 1; ResponseValue value = 2; }
message Responses { repeated NamedResponseValue response_code = 1; }
message Operation { repeated string tags = 1; string description = 3; string operation_id = 5; repeated string produces = 6; repeated string consumes = 7; repeated ParametersItem parameters = 8; Responses responses = 9; repeated NamedAny vendor_extension = 13; }
message PathItem { Operation get = 2; Operation put = 3; Operation post = 4; Operation delete = 5; Operation patch = 8; repeated ParametersItem parameters = 9; }
message NamedPathItem { string name = 1; PathItem value = 2; }
message Paths { repeated NamedPathItem path = 2; }
message Document { string swagger = 1; Info info = 2; Paths paths = 8; Definitions definitions = 9; }
`,
  )
  .root.lookupType('openapi.v2.Document');

type Json = Record<string, unknown>;

function decode(bytes: Uint8Array): Json {
  return gnostic.toObject(gnostic.decode(bytes), { defaults: false, arrays: true }) as Json;
}

describe('OpenAPI v2', () => {
  it('encodes a hand-checked minimal document byte for byte', () => {
    const bytes = encodeOpenApiV2Protobuf({ swagger: '2.0', info: { title: 'K', version: 'v1' } });
    // 0a 03 "2.0" | 12 07 (0a 01 "K" 12 02 "v1")
    assert.deepEqual(
      [...bytes],
      [0x0a, 0x03, 0x32, 0x2e, 0x30, 0x12, 0x07, 0x0a, 0x01, 0x4b, 0x12, 0x02, 0x76, 0x31],
    );
    assert.equal(EMPTY_OPENAPI_V2_PROTOBUF.length, 0);
  });

  it('decodes as a gnostic Document with every definition kube-openapi needs', () => {
    const v2 = buildOpenApiV2();
    const doc = decode(v2.protobuf);
    assert.equal(doc['swagger'], '2.0');
    const defs = (doc['definitions'] as { additionalProperties: { name: string; value: Json }[] })
      .additionalProperties;
    const byName = new Map(defs.map((d) => [d.name, d.value]));
    assert.equal(byName.size, Object.keys(v2.document['definitions'] as Json).length);
    const pod = byName.get('io.k8s.api.core.v1.Pod') as Json;
    const gvk = (pod['vendorExtension'] as { name: string; value: { yaml: string } }[]).find(
      (e) => e.name === 'x-kubernetes-group-version-kind',
    );
    assert.deepEqual(JSON.parse(gvk?.value.yaml ?? ''), [{ group: '', kind: 'Pod', version: 'v1' }]);
    assert.deepEqual((pod['type'] as { value: string[] }).value, ['object']);
    const network = byName.get('io.h8s.api.core.v1.Network') as Json;
    const props = (
      network['properties'] as { additionalProperties: { name: string; value: Json }[] }
    ).additionalProperties.map((p) => p.name);
    assert.deepEqual(props, ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  });

  it('satisfies kube-openapi parsing rules: resolvable refs, one item schema per array, one type', () => {
    const doc = decode(buildOpenApiV2().protobuf);
    const defs = (doc['definitions'] as { additionalProperties: { name: string; value: Json }[] })
      .additionalProperties;
    const names = new Set(defs.map((d) => d.name));
    let refs = 0;
    const visit = (s: Json, where: string): void => {
      if (typeof s['Ref'] === 'string' || typeof s['_ref'] === 'string') {
        const ref = (s['_ref'] ?? s['Ref']) as string;
        assert.ok(
          ref.startsWith('#/definitions/') && names.has(ref.slice('#/definitions/'.length)),
          `${where}: ${ref}`,
        );
        refs++;
        return;
      }
      const types = (s['type'] as { value?: string[] } | undefined)?.value ?? [];
      assert.ok(types.length <= 1, where);
      if (types[0] === 'array') {
        const items = (s['items'] as { schema?: Json[] } | undefined)?.schema ?? [];
        assert.equal(items.length, 1, `${where}: array items`);
        visit(items[0] as Json, `${where}[]`);
      }
      for (const p of (
        s['properties'] as { additionalProperties?: { name: string; value: Json }[] } | undefined
      )?.additionalProperties ?? []) {
        visit(p.value, `${where}.${p.name}`);
      }
      const ap = (s['additionalProperties'] as { schema?: Json } | undefined)?.schema;
      if (ap) visit(ap, `${where}{}`);
    };
    for (const d of defs) visit(d.value, d.name);
    assert.ok(refs > 200, `checked ${refs} references`);
  });

  it('carries paths with group-version-kind on operations', () => {
    const doc = decode(buildOpenApiV2().protobuf);
    const paths = (doc['paths'] as { path: { name: string; value: Json }[] }).path;
    const item = paths.find((p) => p.name === '/api/v1/networks/{name}')?.value as Json;
    const patch = item['patch'] as Json;
    const gvk = (patch['vendorExtension'] as { name: string; value: { yaml: string } }[]).find(
      (e) => e.name === 'x-kubernetes-group-version-kind',
    );
    assert.deepEqual(JSON.parse(gvk?.value.yaml ?? ''), { group: '', kind: 'Network', version: 'v1' });
  });
});
