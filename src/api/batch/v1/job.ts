/** batch/v1 Job: pods that run to completion. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import {
  containersCell,
  imagesCell,
  selectorCell,
  validateSelectorAndTemplate,
} from '../../apps/v1/workload-template.js';
import { applyPodTemplateDefaults, PodTemplateSpecSchema } from '../../core/v1/pod-spec.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { LabelSelectorSchema } from '../../meta/v1/label-selector.js';
import { bool, int32, list, object, str, stringList, time } from '../../schema/fields.js';
import { formatAge } from '../../table/format-age.js';
import { cloneJson, deepEqual } from '../../validation/deep-equal.js';
import {
  checkSupported,
  forbiddenCause,
  immutableCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';

export const JOB_CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid';
const LEGACY_JOB_NAME_LABEL = 'job-name';

export const JobSchema = topLevelSchema(
  'io.k8s.api.batch.v1.Job',
  'Job represents the configuration of a single job.',
  {
    spec: object(
      'io.k8s.api.batch.v1.JobSpec',
      'JobSpec describes how the job execution will look like.',
      {
        parallelism: int32(
          'Specifies the maximum desired number of pods the job should run at any given time. Defaults to 1.',
        ),
        completions: int32(
          'Specifies the desired number of successfully finished pods the job should be run with.',
        ),
        activeDeadlineSeconds: int32(
          'Specifies the duration in seconds relative to the startTime that the job may be continuously active before the system tries to terminate it.',
        ),
        podFailurePolicy: object(
          'io.k8s.api.batch.v1.PodFailurePolicy',
          'PodFailurePolicy describes how failed pods influence the backoffLimit.',
          {
            rules: list(
              object(
                'io.k8s.api.batch.v1.PodFailurePolicyRule',
                'PodFailurePolicyRule describes how a pod failure is handled when the requirements are met.',
                {
                  action: str(
                    'Specifies the action taken on a pod failure when the requirements are satisfied: FailJob, FailIndex, Ignore, Count.',
                  ),
                  onExitCodes: object(
                    'io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement',
                    'PodFailurePolicyOnExitCodesRequirement describes the requirement for handling a failed pod based on its container exit codes.',
                    {
                      containerName: str(
                        'Restricts the check for exit codes to the container with the specified name.',
                      ),
                      operator: str(
                        'Represents the relationship between the container exit code(s) and the specified values: In or NotIn.',
                      ),
                      values: list(int32('An exit code.'), 'Specifies the set of values.', {
                        listType: 'set',
                      }),
                    },
                    { required: ['operator', 'values'] },
                  ),
                  onPodConditions: list(
                    object(
                      'io.k8s.api.batch.v1.PodFailurePolicyOnPodConditionsPattern',
                      'PodFailurePolicyOnPodConditionsPattern describes a pattern for matching an actual pod condition type.',
                      {
                        type: str('Specifies the required Pod condition type.'),
                        status: str('Specifies the required Pod condition status. Defaults to True.'),
                      },
                      { required: ['type'] },
                    ),
                    'Represents the requirement on the pod conditions.',
                    { listType: 'atomic' },
                  ),
                },
                { required: ['action'] },
              ),
              'A list of pod failure policy rules. The rules are evaluated in order.',
              { listType: 'atomic' },
            ),
          },
          { required: ['rules'] },
        ),
        successPolicy: object(
          'io.k8s.api.batch.v1.SuccessPolicy',
          'SuccessPolicy describes when a Job can be declared as succeeded based on the success of some indexes.',
          {
            rules: list(
              object(
                'io.k8s.api.batch.v1.SuccessPolicyRule',
                'SuccessPolicyRule describes rule for declaring a Job as succeeded.',
                {
                  succeededIndexes: str(
                    'succeededIndexes specifies the set of indexes which need to be contained in the actual set of the succeeded indexes for the Job.',
                  ),
                  succeededCount: int32(
                    'succeededCount specifies the minimal required size of the actual set of the succeeded indexes for the Job.',
                  ),
                },
              ),
              'rules represents the list of alternative rules for the declaring the Jobs as successful before `.status.succeeded >= .spec.completions`.',
              { listType: 'atomic' },
            ),
          },
          { required: ['rules'] },
        ),
        backoffLimit: int32('Specifies the number of retries before marking this job failed. Defaults to 6.'),
        backoffLimitPerIndex: int32(
          'Specifies the limit for the number of retries within an index before marking this index as failed.',
        ),
        maxFailedIndexes: int32(
          'Specifies the maximal number of failed indexes before marking the Job as failed.',
        ),
        selector: LabelSelectorSchema,
        manualSelector: bool(
          'manualSelector controls generation of pod labels and pod selectors. Leave unset unless you are certain what you are doing.',
        ),
        template: PodTemplateSpecSchema,
        ttlSecondsAfterFinished: int32(
          'ttlSecondsAfterFinished limits the lifetime of a Job that has finished execution (either Complete or Failed).',
        ),
        completionMode: str(
          'completionMode specifies how Pod completions are tracked. It can be `NonIndexed` (default) or `Indexed`.',
        ),
        suspend: bool(
          'suspend specifies whether the Job controller should create Pods or not. Defaults to false.',
        ),
        podReplacementPolicy: str(
          'podReplacementPolicy specifies when to create replacement Pods: TerminatingOrFailed (default) or Failed.',
        ),
        managedBy: str('ManagedBy field indicates the controller that manages a Job.'),
      },
      { required: ['template'] },
    ),
    status: object('io.k8s.api.batch.v1.JobStatus', 'JobStatus represents the current state of a Job.', {
      conditions: list(
        object(
          'io.k8s.api.batch.v1.JobCondition',
          'JobCondition describes current state of a job.',
          {
            type: str(
              'Type of job condition: Complete, Failed, Suspended, FailureTarget, SuccessCriteriaMet.',
            ),
            status: str('Status of the condition, one of True, False, Unknown.'),
            lastProbeTime: time('Last time the condition was checked.'),
            lastTransitionTime: time('Last time the condition transit from one status to another.'),
            reason: str("(brief) reason for the condition's last transition."),
            message: str('Human readable message indicating details about last transition.'),
          },
          { required: ['type', 'status'] },
        ),
        "The latest available observations of an object's current state.",
        { listType: 'atomic', strategy: 'merge', mergeKey: 'type' },
      ),
      startTime: time('Represents time when the job controller started processing a job.'),
      completionTime: time('Represents time when the job was completed.'),
      active: int32('The number of pending and running pods which are not terminating.'),
      succeeded: int32('The number of pods which reached phase Succeeded.'),
      failed: int32('The number of pods which reached phase Failed.'),
      terminating: int32(
        'The number of pods which are terminating (in phase Pending or Running and have a deletionTimestamp).',
      ),
      completedIndexes: str(
        'completedIndexes holds the completed indexes when .spec.completionMode = "Indexed" in a text format.',
      ),
      failedIndexes: str('FailedIndexes holds the failed indexes when spec.backoffLimitPerIndex is set.'),
      uncountedTerminatedPods: object(
        'io.k8s.api.batch.v1.UncountedTerminatedPods',
        "UncountedTerminatedPods holds UIDs of Pods that have terminated but haven't been accounted in Job status counters.",
        {
          succeeded: stringList('succeeded holds UIDs of succeeded Pods.', {
            'x-kubernetes-list-type': 'set',
          }),
          failed: stringList('failed holds UIDs of failed Pods.', { 'x-kubernetes-list-type': 'set' }),
        },
      ),
      ready: int32(
        'The number of active pods which have a Ready condition and are not terminating (without a deletionTimestamp).',
      ),
    }),
  },
);

export type Job = Static<typeof JobSchema>;

function jobOf(obj: KubeObject): Job {
  return obj as unknown as Job;
}

function hasCondition(job: Job, type: string): boolean {
  return (job.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

/** The STATUS cell (kubectl 1.28+): Complete, Failed, Terminating, Suspended, ..., Running. */
export function jobStatusCell(job: Job, deleting: boolean): string {
  if (hasCondition(job, 'Complete')) return 'Complete';
  if (hasCondition(job, 'Failed')) return 'Failed';
  if (deleting) return 'Terminating';
  if (hasCondition(job, 'Suspended')) return 'Suspended';
  if (hasCondition(job, 'FailureTarget')) return 'FailureTarget';
  if (hasCondition(job, 'SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  return 'Running';
}

/** The COMPLETIONS cell: `1/1`, `0/1 of 3` for work queues. */
export function jobCompletionsCell(job: Job): string {
  const succeeded = job.status?.succeeded ?? 0;
  if (job.spec?.completions !== undefined) return `${succeeded}/${job.spec.completions}`;
  const parallelism = job.spec?.parallelism ?? 0;
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

/** The DURATION cell: from startTime to completionTime (or now). */
export function jobDurationCell(job: Job, nowMs: number): string {
  const start = job.status?.startTime ? Date.parse(job.status.startTime) : NaN;
  if (Number.isNaN(start)) return '';
  const end = job.status?.completionTime ? Date.parse(job.status.completionTime) : nowMs;
  return formatAge((Number.isNaN(end) ? nowMs : end) - start);
}

/** Fields of a suspended job's template that may still change (upstream allows these). */
const mutableWhileSuspended = ['nodeSelector', 'tolerations', 'affinity', 'schedulingGates'] as const;

export const jobKind = defineKind({
  group: 'batch',
  version: 'v1',
  kind: 'Job',
  plural: 'jobs',
  categories: ['all'],
  namespaced: true,
  description: JobSchema.description ?? '',
  schema: JobSchema,
  hasStatusSubresource: true,
  tracksGeneration: true,
  applyDefaults(obj) {
    const job = jobOf(obj);
    const spec = (job.spec ??= {});
    if (spec.completions === undefined && spec.parallelism === undefined) {
      spec.completions = 1;
      spec.parallelism = 1;
    }
    spec.parallelism ??= 1;
    spec.backoffLimit ??= spec.backoffLimitPerIndex !== undefined ? 2147483647 : 6;
    spec.completionMode ??= 'NonIndexed';
    spec.suspend ??= false;
    spec.podReplacementPolicy ??= spec.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
    for (const rule of spec.podFailurePolicy?.rules ?? [])
      for (const c of rule.onPodConditions ?? []) c.status ??= 'True';
    // Upstream generates the selector from the job's uid (its create strategy); the apiserver
    // sets metadata.uid before defaulting (kind-definition.ts).
    const uid = obj.metadata.uid;
    if (spec.manualSelector !== true && uid && spec.template) {
      const meta = (spec.template.metadata ??= {});
      const labels = (meta.labels ??= {});
      const name = obj.metadata.name ?? '';
      labels[LEGACY_JOB_NAME_LABEL] ??= name;
      labels[JOB_NAME_LABEL] ??= name;
      labels[LEGACY_CONTROLLER_UID_LABEL] ??= uid;
      labels[JOB_CONTROLLER_UID_LABEL] ??= uid;
      const selector = (spec.selector ??= {});
      const matchLabels = (selector.matchLabels ??= {});
      matchLabels[JOB_CONTROLLER_UID_LABEL] ??= uid;
    }
    // Upstream copies the template labels to an unlabelled job (its decoder defaults stored
    // objects too, so the generated labels end up on the job).
    const tplLabels = spec.template?.metadata?.labels;
    if (tplLabels && Object.keys(obj.metadata.labels ?? {}).length === 0)
      obj.metadata.labels = { ...tplLabels };
    applyPodTemplateDefaults(spec.template);
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const job = jobOf(obj);
    const spec = job.spec ?? {};
    for (const f of [
      'parallelism',
      'completions',
      'activeDeadlineSeconds',
      'backoffLimit',
      'ttlSecondsAfterFinished',
      'backoffLimitPerIndex',
      'maxFailedIndexes',
    ] as const) {
      const v = spec[f];
      if (v !== undefined && v < 0)
        causes.push(invalidCause(`spec.${f}`, v, 'must be greater than or equal to 0'));
    }
    checkSupported(causes, 'spec.completionMode', spec.completionMode, ['NonIndexed', 'Indexed']);
    if (spec.completionMode === 'Indexed') {
      if (spec.completions === undefined)
        causes.push(requiredCause('spec.completions', 'when completion mode is Indexed'));
      else if (spec.completions > 100000)
        causes.push(
          invalidCause(
            'spec.completions',
            spec.completions,
            'must be less than or equal to 100000 when completion mode is Indexed',
          ),
        );
    } else if (spec.backoffLimitPerIndex !== undefined) {
      causes.push(requiredCause('spec.backoffLimitPerIndex', 'requires indexed completion mode'));
    }
    checkSupported(causes, 'spec.podReplacementPolicy', spec.podReplacementPolicy, [
      'TerminatingOrFailed',
      'Failed',
    ]);
    if (spec.manualSelector !== true) {
      const uid = obj.metadata.uid ?? '';
      const expected = { matchLabels: { [JOB_CONTROLLER_UID_LABEL]: uid } };
      if (spec.selector && !deepEqual(spec.selector, expected)) {
        causes.push(invalidCause('spec.selector', spec.selector, '`selector` not auto-generated'));
      }
      const tplUid = spec.template?.metadata?.labels?.[JOB_CONTROLLER_UID_LABEL];
      if (tplUid !== undefined && tplUid !== uid) {
        causes.push(
          invalidCause(
            `spec.template.metadata.labels[${JOB_CONTROLLER_UID_LABEL}]`,
            tplUid,
            `must be '${uid}'`,
          ),
        );
      }
    }
    validateSelectorAndTemplate(causes, spec.selector, spec.template, {
      what: 'job',
      restartPolicies: ['OnFailure', 'Never'],
      forbidActiveDeadline: false,
    });
    if (spec.podFailurePolicy && spec.template?.spec?.restartPolicy !== 'Never') {
      causes.push(
        invalidCause(
          'spec.template.spec.restartPolicy',
          spec.template?.spec?.restartPolicy ?? '',
          'only "Never" is supported when podFailurePolicy is specified',
        ),
      );
    }
    (spec.podFailurePolicy?.rules ?? []).forEach((r, i) => {
      const p = `spec.podFailurePolicy.rules[${i}]`;
      checkSupported(causes, `${p}.action`, r.action, ['FailJob', 'FailIndex', 'Ignore', 'Count']);
      const n = (r.onExitCodes ? 1 : 0) + (r.onPodConditions && r.onPodConditions.length > 0 ? 1 : 0);
      if (n !== 1)
        causes.push(invalidCause(p, '', 'specifying one of OnExitCodes and OnPodConditions is required'));
      if (r.onExitCodes)
        checkSupported(causes, `${p}.onExitCodes.operator`, r.onExitCodes.operator, ['In', 'NotIn']);
    });
    if (old) {
      const prev = jobOf(old).spec ?? {};
      if (!deepEqual(prev.selector, spec.selector))
        causes.push(immutableCause('spec.selector', spec.selector ?? null));
      if ((prev.completionMode ?? 'NonIndexed') !== (spec.completionMode ?? 'NonIndexed'))
        causes.push(immutableCause('spec.completionMode', spec.completionMode ?? ''));
      if (prev.completions !== spec.completions && spec.completionMode !== 'Indexed')
        causes.push(immutableCause('spec.completions', spec.completions ?? null));
      const before = cloneJson(prev.template ?? {});
      const after = cloneJson(spec.template ?? {});
      if (prev.suspend === true) {
        for (const t of [before, after]) {
          delete t.metadata;
          for (const f of mutableWhileSuspended) if (t.spec) delete t.spec[f];
        }
      }
      if (!deepEqual(before, after)) causes.push(immutableCause('spec.template', '<template>'));
      if (prev.manualSelector !== spec.manualSelector)
        causes.push(immutableCause('spec.manualSelector', spec.manualSelector ?? null));
      if (spec.managedBy !== prev.managedBy)
        causes.push(immutableCause('spec.managedBy', spec.managedBy ?? ''));
      if (prev.podFailurePolicy && !deepEqual(prev.podFailurePolicy, spec.podFailurePolicy)) {
        causes.push(forbiddenCause('spec.podFailurePolicy', 'field is immutable'));
      }
    }
    return causes;
  },
  columns: [
    column('Status', 'Status of the job.'),
    column('Completions', 'The desired number of successfully finished pods the job should be run with.'),
    column('Duration', 'Time required to complete the job.'),
    AGE_COLUMN,
    column('Containers', 'Names of each container in the template.', { priority: 1 }),
    column('Images', 'Images referenced by each container in the template.', { priority: 1 }),
    column('Selector', 'A label query over pods that should match the pod count.', { priority: 1 }),
  ],
  cells: (obj, nowMs) => {
    const job = jobOf(obj);
    return [
      jobStatusCell(job, obj.metadata.deletionTimestamp !== undefined),
      jobCompletionsCell(job),
      jobDurationCell(job, nowMs),
      ageCell(obj, nowMs),
      containersCell(job.spec?.template),
      imagesCell(job.spec?.template),
      selectorCell(job.spec?.selector),
    ];
  },
});
