"""The HTTP service's machinery around its routes: the process state, request edges
(hosts, security headers, body deadlines, access log), uploads and slow-work slots."""
