import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * OpenAPI 3 generated from the same zod schemas the routes validate with
 * (fastify-type-provider-zod's transform), served as JSON at /docs/json and as
 * Swagger UI at /docs (its assets come from node_modules: same origin, no CDN).
 * Must be registered before the routes it documents.
 */
export function registerOpenApi(app: FastifyInstance): void {
  // Registered on the root instance (not inside a plugin of ours): swagger collects
  // routes with an onRoute hook, which only sees routes of its own context and below.
  app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Smoke hub dashboard API',
        description:
          'Duty consoles of micro fire stations and the township fire office. Every /api route needs the ' +
          'HttpOnly session cookie from POST /api/auth/login; errors are { code, message } with a stable code.',
        version: '1',
      },
      components: {
        securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'hub_session' } },
      },
      security: [{ session: [] }],
      tags: [
        { name: 'auth', description: 'login, logout, sessions' },
        { name: 'incidents', description: 'incidents (written by alerts) and station actions' },
        { name: 'stations', description: 'stations and their incidents' },
        { name: 'live', description: 'server-sent event streams' },
        { name: 'township', description: 'township console: map, fleet, tickets, statistics' },
        { name: 'accounts', description: 'accounts of people' },
        { name: 'health', description: 'probes and metrics' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: false },
  });
}
