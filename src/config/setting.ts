import type { z } from 'zod';

/** The processes that read the configuration; a setting may be one that some of them cannot run without. */
export type ConfigProcess = 'launcher' | 'api' | 'worker' | 'asr-simulator';

interface SettingSpec<E extends string, S extends z.ZodType> {
  env: E;
  schema: S;
  /** One line: what the setting means, for docs/configuration.md. */
  doc: string;
  /** Used when the variable is unset or empty, written as in the environment: the schema parses it like any value. */
  default?: string | number | boolean;
  /** What stands in when the variable is unset and the value depends on other settings or the machine (docs only). */
  fallback?: string;
  secret?: boolean;
  requiredBy?: readonly ConfigProcess[];
}

/** One setting, declared once. Its place in the settings tree is its place in the loaded `Config`. */
export class Setting<E extends string = string, S extends z.ZodType = z.ZodType> {
  readonly env: E;
  readonly schema: S;
  readonly doc: string;
  readonly default: string | undefined;
  readonly fallback: string | undefined;
  /** A secret's value is never shown, not even in the error that says it is wrong. */
  readonly secret: boolean;
  readonly requiredBy: readonly ConfigProcess[];

  constructor(spec: SettingSpec<E, S>) {
    this.env = spec.env;
    this.schema = spec.schema;
    this.doc = spec.doc;
    this.default = spec.default === undefined ? undefined : String(spec.default);
    this.fallback = spec.fallback;
    this.secret = spec.secret ?? false;
    this.requiredBy = spec.requiredBy ?? [];
  }
}

/** Declares a setting; `const` keeps the variable's name as a literal type, so checks can name it safely. */
export function setting<const E extends string, S extends z.ZodType>(spec: SettingSpec<E, S>): Setting<E, S> {
  return new Setting(spec);
}

export interface SettingsTree {
  readonly [key: string]: Setting | SettingsTree;
}

/** The parsed values, in the shape of the tree. */
export type ParsedTree<T> = {
  [K in keyof T]: T[K] extends Setting<string, infer S> ? z.output<S> : ParsedTree<T[K]>;
};

type LeafOf<T> = T extends Setting ? T : T extends SettingsTree ? { [K in keyof T]: LeafOf<T[K]> }[keyof T] : never;

/** The parsed values by variable name: what the checks that compare settings read. */
export type ParsedByEnv<T> = {
  [L in LeafOf<T> as L extends Setting<infer E> ? E : never]: L extends Setting<string, infer S> ? z.output<S> : never;
};

/** Every setting of the tree, in declaration order, with the path of keys that leads to it. */
export function listSettings(
  tree: SettingsTree,
  parent: readonly string[] = [],
): { path: string[]; setting: Setting }[] {
  return Object.entries(tree).flatMap(([key, node]) =>
    node instanceof Setting ? [{ path: [...parent, key], setting: node }] : listSettings(node, [...parent, key]),
  );
}

/** A tree of the same shape with each setting replaced by `value(setting)`. */
export function mapSettings(tree: SettingsTree, value: (setting: Setting) => unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(tree).map(([key, node]) => [key, node instanceof Setting ? value(node) : mapSettings(node, value)]),
  );
}
