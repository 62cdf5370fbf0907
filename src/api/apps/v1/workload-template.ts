/**
 * What the workload kinds share: selector-vs-template validation, and the CONTAINERS, IMAGES
 * and SELECTOR cells of `-o wide`.
 */
import type { StatusCause } from '../../../lib/index.js';
import type { PodTemplateSpec } from '../../core/v1/pod-spec.js';
import { validatePodTemplateSpec } from '../../core/v1/pod-spec.js';
import {
  labelSelectorFromObject,
  labelSelectorToString,
  matchesLabelSelector,
  validateLabelSelector,
  type LabelSelector,
} from '../../meta/v1/label-selector.js';
import {
  checkSupported,
  forbiddenCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';

export interface TemplateRules {
  /** Label for the "empty selector" message (`deployment`, `replicaset`, ...). */
  readonly what: string;
  /** Restart policies the template may use (`Always` for long-running workloads). */
  readonly restartPolicies: readonly string[];
  /** Whether `activeDeadlineSeconds` is forbidden in the template. */
  readonly forbidActiveDeadline: boolean;
}

/** Upstream's selector + `ValidatePodTemplateSpecForReplicaSet` rules. */
export function validateSelectorAndTemplate(
  causes: StatusCause[],
  selector: LabelSelector | undefined,
  template: PodTemplateSpec | undefined,
  rules: TemplateRules,
): void {
  if (!selector) causes.push(requiredCause('spec.selector'));
  else {
    causes.push(...validateLabelSelector(selector, 'spec.selector'));
    if (Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions?.length ?? 0) === 0) {
      causes.push(invalidCause('spec.selector', selector, `empty selector is invalid for ${rules.what}`));
    }
  }
  if (!template) {
    causes.push(requiredCause('spec.template'));
    return;
  }
  if (
    selector &&
    Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions?.length ?? 0) > 0
  ) {
    let matches = false;
    try {
      matches = matchesLabelSelector(labelSelectorFromObject(selector), template.metadata?.labels ?? {});
    } catch {
      matches = true; // an unparsable selector was reported above
    }
    if (!matches) {
      causes.push(
        invalidCause(
          'spec.template.metadata.labels',
          template.metadata?.labels ?? {},
          '`selector` does not match template `labels`',
        ),
      );
    }
  }
  validatePodTemplateSpec(causes, template, 'spec.template');
  const rp = template.spec?.restartPolicy;
  if (rp !== undefined && !causes.some((c) => c.field === 'spec.template.spec.restartPolicy')) {
    checkSupported(causes, 'spec.template.spec.restartPolicy', rp, rules.restartPolicies);
  }
  if (rules.forbidActiveDeadline && template.spec?.activeDeadlineSeconds !== undefined) {
    causes.push(
      forbiddenCause(
        'spec.template.spec.activeDeadlineSeconds',
        `activeDeadlineSeconds in ${rules.what} is not Supported`,
      ),
    );
  }
}

/** Container names, comma-joined (`-o wide` CONTAINERS). */
export function containersCell(template: PodTemplateSpec | undefined): string {
  return (template?.spec?.containers ?? []).map((c) => c.name ?? '').join(',');
}

/** Container images, comma-joined (`-o wide` IMAGES). */
export function imagesCell(template: PodTemplateSpec | undefined): string {
  return (template?.spec?.containers ?? []).map((c) => c.image ?? '').join(',');
}

/** The selector in string form (`app=web`), `<none>` when absent, `<invalid>` when unparsable. */
export function selectorCell(selector: LabelSelector | undefined): string {
  if (!selector) return '<none>';
  try {
    const s = labelSelectorToString(labelSelectorFromObject(selector));
    return s === '' ? '<none>' : s;
  } catch {
    return '<invalid>';
  }
}
