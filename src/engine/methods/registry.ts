// Methods register themselves here when their folder's index.ts is imported.

import { ConfigError, type Schema } from '../config/schema.ts';
import type { MethodDef } from './types.ts';

const methods = new Map<string, MethodDef>();

export function registerMethod<S extends Schema>(def: MethodDef<S>): MethodDef<S> {
  if (methods.has(def.name) && methods.get(def.name) !== def) throw new Error(`method "${def.name}" is registered twice`);
  methods.set(def.name, def);
  return def;
}

export function methodNames(): string[] {
  return [...methods.keys()].sort();
}

export function listMethods(): MethodDef[] {
  return methodNames().map((n) => getMethod(n));
}

export function getMethod(name: string): MethodDef {
  const m = methods.get(name);
  if (!m) throw new ConfigError(`unknown method "${name}" (methods: ${methodNames().join(', ') || 'none registered'})`);
  return m;
}
