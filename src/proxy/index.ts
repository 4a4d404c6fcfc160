/**
 * @module proxy
 * The standalone proxy as a library, published as `sluice/proxy`: what
 * `sluice proxy` does, for a program that builds its own process around it
 * (its own signals, its own listener, a config from elsewhere).
 *
 * @example
 * import { resolveProxyConfig, createProxy } from 'sluice/proxy'
 * const config = await resolveProxyConfig({ argv: ['--upstream', 'https://api.openai.com'], env: process.env })
 * const app = await createProxy(config)
 * await app.listen({ host: config.host, port: config.port })
 */
export { createProxy } from './create-proxy.js'
export type { CreateProxyOptions, ProxyState } from './create-proxy.js'
export { resolveProxyConfig, readProxyConfigFile, defaultProxyConfig, hashApiKey, ProxyConfigFileSchema } from './proxy-config.js'
export type {
  ProxyConfig, ProxyConfigFile, ResolveProxyConfigInput, InputPolicy, ProxyTimeouts, ConnectionLimits, ProxyClient, MetricsExposure
} from './proxy-config.js'
export { runProxy, runDemo } from './run-proxy.js'
export type { RunIo } from './run-proxy.js'
