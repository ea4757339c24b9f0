import 'reflect-metadata';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { Access, ACCESS_METADATA, AppModule } from '@wrenn/gateway';

/** One HTTP route Nest serves, with the handler that serves it. */
export interface ServedRoute {
  /** "METHOD /path/{param}", the OpenAPI spelling of the path. */
  key: string;
  method: string;
  path: string;
  access: Access;
  controller: new (...args: never[]) => object;
  handler: string;
}

type Class = new (...args: never[]) => object;
type ModuleRef = Class | { forwardRef: () => ModuleRef } | { module: ModuleRef };

/** The module and every module it imports (forward references followed), each once. */
function modules(root: ModuleRef, seen = new Set<unknown>()): Class[] {
  const resolved = 'forwardRef' in root ? root.forwardRef() : 'module' in root ? root.module : root;
  if (seen.has(resolved) || typeof resolved !== 'function') return [];
  seen.add(resolved);
  const imports: ModuleRef[] = Reflect.getMetadata(MODULE_METADATA.IMPORTS, resolved) ?? [];
  return [resolved as Class, ...imports.filter(Boolean).flatMap((m) => modules(m, seen))];
}

/**
 * Every HTTP route the gateway serves, from the controllers' metadata of the gateway and the
 * modules it imports (the E2B surface); a handler bound to several paths counts once per path.
 */
export function servedRoutes(): ServedRoute[] {
  const controllers = modules(AppModule).flatMap((m): Class[] => Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, m) ?? []);
  const routes: ServedRoute[] = [];
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = controller.prototype[name as keyof object] as unknown;
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const paths: unknown = Reflect.getMetadata(PATH_METADATA, handler);
      const method = Reflect.getMetadata(METHOD_METADATA, handler);
      if (paths === undefined || method === undefined) continue;
      const access = Reflect.getMetadata(ACCESS_METADATA, handler) ?? Reflect.getMetadata(ACCESS_METADATA, controller) ?? Access.ApiKey;
      for (const path of Array.isArray(paths) ? paths : [paths]) {
        const full = `/${[base, String(path)].map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`.replace(/:([A-Za-z_]+)/g, '{$1}');
        routes.push({ key: `${RequestMethod[method]} ${full}`, method: RequestMethod[method], path: full, access, controller, handler: name });
      }
    }
  }
  return routes;
}
