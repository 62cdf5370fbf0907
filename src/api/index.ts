/**
 * api: the object types the API serves, with their schemas, defaulting, validation and
 * table columns; one kind per file under api/<group>/<version>/. Pure: no I/O.
 *
 * What it is not: serving (apiserver), storing (storage) or talking HTTP (client).
 */
export type * from './kind-definition.js';
