/**
 * Image locality (upstream's ImageLocality): prefer nodes that already hold the pod's images,
 * scaled by how widely each image is spread (an image on every node says nothing), clamped
 * between 23 MB and 1,000 MB per container as upstream does.
 */
import { maxNodeScore, type ScorePlugin } from '../framework.js';

const minThreshold = 23 * 1024 * 1024;
const maxContainerThreshold = 1000 * 1024 * 1024;

/** Candidate names an image is known by on a node (`busybox` is `docker.io/library/busybox:latest`). */
export function imageNames(image: string): string[] {
  const out = [image];
  const hasTag = /:[^/]+$/.test(image) || image.includes('@');
  const tagged = hasTag ? image : `${image}:latest`;
  out.push(tagged);
  const slash = tagged.indexOf('/');
  if (slash < 0) out.push(`docker.io/library/${tagged}`);
  else {
    const first = tagged.slice(0, slash);
    if (!first.includes('.') && !first.includes(':') && first !== 'localhost')
      out.push(`docker.io/${tagged}`);
  }
  return out;
}

export const imageLocalityScore: ScorePlugin = {
  name: 'ImageLocality',
  weight: 1,
  preScore(ctx, nodes) {
    const images = (ctx.pod.spec?.containers ?? []).map((c) => c.image ?? '').filter((i) => i !== '');
    const spread = new Map<string, number>();
    for (const img of images) {
      const names = imageNames(img);
      let n = 0;
      for (const node of ctx.view.nodes) if (names.some((x) => node.images.has(x))) n++;
      spread.set(img, n);
    }
    ctx.state.set('ImageLocality', {
      images,
      spread,
      total: Math.max(1, ctx.view.nodes.length),
      nodes: nodes.length,
    });
  },
  score(ctx, node) {
    const s = ctx.state.get('ImageLocality') as
      { images: string[]; spread: Map<string, number>; total: number } | undefined;
    if (!s || s.images.length === 0) return 0;
    let sum = 0;
    for (const img of s.images) {
      const names = imageNames(img);
      const name = names.find((x) => node.images.has(x));
      if (name === undefined) continue;
      sum += (node.images.get(name) ?? 0) * ((s.spread.get(img) ?? 0) / s.total);
    }
    const maxThreshold = maxContainerThreshold * s.images.length;
    const clamped = Math.min(Math.max(sum, minThreshold), maxThreshold);
    return Math.floor((maxNodeScore * (clamped - minThreshold)) / (maxThreshold - minThreshold));
  },
};
