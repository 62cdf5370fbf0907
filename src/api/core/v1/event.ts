/** core/v1 Event: a report of something that happened to an object. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject, TableColumn } from '../../kind-definition.js';
import { int32, microTime, object, str, time } from '../../schema/fields.js';
import { ageSince } from '../../table/format-age.js';
import { invalidCause, requiredCause } from '../../validation/field-causes.js';
import { ObjectReferenceSchema } from './object-reference.js';

export const EventSchema = topLevelSchema(
  'io.k8s.api.core.v1.Event',
  'Event is a report of an event somewhere in the cluster.',
  {
    involvedObject: ObjectReferenceSchema,
    reason: str(
      "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    message: str('A human-readable description of the status of this operation.'),
    source: object('io.k8s.api.core.v1.EventSource', 'EventSource contains information for an event.', {
      component: str('Component from which the event is generated.'),
      host: str('Node name on which the event is generated.'),
    }),
    firstTimestamp: time(
      'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)',
    ),
    lastTimestamp: time('The time at which the most recent occurrence of this event was recorded.'),
    count: int32('The number of times this event has occurred.'),
    type: str('Type of this event (Normal, Warning), new types could be added in the future'),
    eventTime: microTime('Time when this Event was first observed.'),
    series: object(
      'io.k8s.api.core.v1.EventSeries',
      'EventSeries contain information on series of events, i.e. thing that was/is happening continuously for some time.',
      {
        count: int32('Number of occurrences in this series up to the last heartbeat time'),
        lastObservedTime: microTime('Time of the last occurrence observed'),
      },
    ),
    action: str('What action was taken/failed regarding to the Regarding object.'),
    related: ObjectReferenceSchema,
    reportingComponent: str('Name of the controller that emitted this Event, e.g. `kubernetes.io/kubelet`.'),
    reportingInstance: str('ID of the controller instance, e.g. `kubelet-xyzf`.'),
  },
  ['metadata', 'involvedObject'],
);

export type Event = Static<typeof EventSchema>;

function eventOf(obj: KubeObject): Event {
  return obj as unknown as Event;
}

const columns: TableColumn[] = [
  column('Last Seen', 'The time at which the most recent occurrence of this event was recorded.'),
  column('Type', 'Type of this event (Normal, Warning), new types could be added in the future'),
  column(
    'Reason',
    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
  ),
  column('Object', 'The object that this event is about.'),
  column(
    'Subobject',
    'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.',
    { priority: 1 },
  ),
  column('Source', 'The component reporting this event.', { priority: 1 }),
  column('Message', 'A human-readable description of the status of this operation.'),
  column('First Seen', 'The time at which the event was first recorded.', { priority: 1 }),
  column('Count', 'The number of times this event has occurred.', { priority: 1 }),
  {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: 'Name must be unique within a namespace.',
    priority: 1,
  },
];

function sourceCell(e: Event): string {
  const component = e.source?.component;
  if (component) return e.source?.host ? `${component}, ${e.source.host}` : component;
  const ctrl = e.reportingComponent ?? '';
  return e.reportingInstance ? `${ctrl}, ${e.reportingInstance}` : ctrl;
}

/** Upstream `printEvent`: LAST SEEN TYPE REASON OBJECT [SUBOBJECT SOURCE] MESSAGE [FIRST SEEN COUNT NAME]. */
function eventRow(obj: KubeObject, nowMs: number): (string | number)[] {
  const e = eventOf(obj);
  const first = e.firstTimestamp ? ageSince(e.firstTimestamp, nowMs) : ageSince(e.eventTime, nowMs);
  let last = e.lastTimestamp ? ageSince(e.lastTimestamp, nowMs) : first;
  let count = e.count ?? 0;
  if (e.series) {
    last = ageSince(e.series.lastObservedTime, nowMs);
    count = e.series.count ?? 0;
  } else if (count === 0) {
    count = 1;
  }
  const io = e.involvedObject ?? {};
  const kind = (io.kind ?? '').toLowerCase();
  const target = io.name ? `${kind}/${io.name}` : kind;
  return [
    last,
    e.type ?? '',
    e.reason ?? '',
    target,
    io.fieldPath ?? '',
    sourceCell(e),
    (e.message ?? '').trim(),
    first,
    count,
    obj.metadata.name ?? '',
  ];
}

export const eventKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  shortNames: ['ev'],
  namespaced: true,
  description: EventSchema.description ?? '',
  schema: EventSchema,
  validate(obj) {
    const causes: StatusCause[] = [];
    const e = eventOf(obj);
    const io = e.involvedObject;
    if (!io) causes.push(requiredCause('involvedObject'));
    else if (io.namespace && io.namespace !== obj.metadata.namespace) {
      causes.push(invalidCause('involvedObject.namespace', io.namespace, 'does not match event.namespace'));
    }
    if (e.reportingComponent && e.reportingComponent.length > 128) {
      causes.push(
        invalidCause('reportingComponent', e.reportingComponent, 'can have at most 128 characters'),
      );
    }
    if (e.reportingInstance && e.reportingInstance.length > 128) {
      causes.push(invalidCause('reportingInstance', e.reportingInstance, 'can have at most 128 characters'));
    }
    if (e.action && e.action.length > 128)
      causes.push(invalidCause('action', e.action, 'can have at most 128 characters'));
    if (e.reason && e.reason.length > 128)
      causes.push(invalidCause('reason', e.reason, 'can have at most 128 characters'));
    if (e.message && Buffer.byteLength(e.message, 'utf8') > 4096)
      causes.push(invalidCause('message', '', 'can have at most 4096 bytes'));
    return causes;
  },
  customTable: { columns, row: eventRow },
  fieldSelectors: {
    'involvedObject.kind': (o) => eventOf(o).involvedObject?.kind ?? '',
    'involvedObject.namespace': (o) => eventOf(o).involvedObject?.namespace ?? '',
    'involvedObject.name': (o) => eventOf(o).involvedObject?.name ?? '',
    'involvedObject.uid': (o) => eventOf(o).involvedObject?.uid ?? '',
    'involvedObject.apiVersion': (o) => eventOf(o).involvedObject?.apiVersion ?? '',
    'involvedObject.resourceVersion': (o) => eventOf(o).involvedObject?.resourceVersion ?? '',
    'involvedObject.fieldPath': (o) => eventOf(o).involvedObject?.fieldPath ?? '',
    reason: (o) => eventOf(o).reason ?? '',
    reportingComponent: (o) => eventOf(o).reportingComponent ?? '',
    source: (o) => eventOf(o).source?.component ?? '',
    type: (o) => eventOf(o).type ?? '',
  },
});
