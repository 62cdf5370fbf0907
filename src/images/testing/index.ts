/**
 * Test harness of the image service, for any module's tests (the import rules allow
 * `images/testing/` from everywhere):
 *
 *   import { startTestRegistry, pushBusybox } from '../../images/testing/index.js';
 *
 *   const reg = await startTestRegistry();                 // docker-registry on 127.0.0.1:<free port>
 *   try {
 *     const { ref } = await pushBusybox(reg.host);         // "127.0.0.1:<port>/busybox:latest", Cmd ["sh"]
 *     const images = await createImageService({ root: tmp, log });   // from images/index.js
 *     await images.pullImage(ref);
 *     const disk = await images.ensureRootDisk(ref);       // ext4 for VM pods
 *     const tree = await images.ensureLayerTree(ref);      // overlayfs lowerdirs for runc
 *   } finally {
 *     await reg.stop();                                    // kills the registry, removes its temp dir
 *   }
 *
 * Custom images: `buildImage({ layers: [{ entries: [{ path: 'etc/app.conf', content: 'x' }] }],
 * config: { entrypoint: ['/bin/app'], env: ['A=1'], workingDir: '/srv', user: '1000:1000' } })`
 * then `pushImage(`${reg.host}/app:v1`, image)`. Add busybox underneath with
 * `busyboxImage({ extraLayers: [...] })`. Whiteouts are entries named `.wh.<name>` and
 * `.wh..wh..opq`; `rawTar` takes a hand-made (e.g. malicious) layer. Multi-arch:
 * `pushIndex(name, [imgAmd64, imgArm64])`. Auth: `startTestRegistry({ auth: 'htpasswd' | 'token' })`
 * and pass `{ auth: { username: reg.username, password: reg.password } }` to push and pull.
 *
 * Contract tests: `runImageServiceConformance(name, open)` runs the ImageService suite against
 * whatever `open` returns (the local service, the runtime client, a fake).
 *
 * Needs Debian's docker-registry, busybox-static, apache2-utils (htpasswd), openssl and zstd
 * (all installed by scripts/host-setup.sh).
 */
export * from './test-registry.js';
export * from './token-server.js';
export * from './image-builder.js';
export * from './registry-proxy.js';
export * from './image-service-conformance.js';
