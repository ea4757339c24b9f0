import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Public } from '../auth/access.decorators';
import { OPENAPI_FILE, TEST_UI_DIR } from '../docs/docs.paths';

/** Swagger UI's page, pointed at our document; its scripts and styles are served under /docs/. */
const SWAGGER_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Wrenn API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: '/openapi.yaml', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: true });
  </script>
</body>
</html>
`;

/** The API's own description: the OpenAPI document, Swagger UI and the test UI. */
@Controller()
@Public()
export class DocsController {
  private readonly openapi = readFileSync(OPENAPI_FILE, 'utf8');

  @Get('openapi.yaml')
  document(@Res() res: Response): void {
    res.status(200).type('application/yaml').send(this.openapi);
  }

  @Get('docs')
  docs(@Res() res: Response): void {
    res.status(200).type('html').send(SWAGGER_PAGE);
  }

  @Get('test')
  testUi(@Res() res: Response): void {
    res.status(200).sendFile(join(TEST_UI_DIR, 'index.html'));
  }
}
