"""Request patterns of the CrowdSec-style baseline: static assets and probing signatures.

Written for this baseline after the kinds of lists CrowdSec's hub scenarios read
(sensitive files, path traversal, SQL-injection and XSS probes). Matching is
case-insensitive substring matching, as the hub's ``Upper(...) contains Upper(#)``.
"""

from __future__ import annotations

STATIC_EXTENSIONS: tuple[str, ...] = (
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".svg", ".webp",
    ".bmp", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".avi",
)  # fmt: skip
"""A request for one of these is a static resource (never counted by probing or crawl)."""

SENSITIVE_SUFFIXES: tuple[str, ...] = (
    ".sql", ".sql.gz", ".sql.zip", ".sql.bz2", ".sql.tar", ".sqlite", ".db", ".bak", ".old",
    ".swp", ".env", ".git", ".git/head", ".git/config", ".svn", ".svn/entries", ".hg",
    ".htaccess", ".htpasswd", ".bash_history", ".bashrc", ".ssh", ".aws", "aws/credentials",
    ".mysql_history", ".passwd", ".ds_store", "composer.json", "composer.lock", "debug.log",
    "error.log", "web.config", "wp-config.php.bak", "id_rsa", ".npmrc", ".dockerenv",
)  # fmt: skip
"""The request (path and query) ends with one of these: an attempt at a sensitive file."""

TRAVERSAL_PATTERNS: tuple[str, ...] = (
    "../", "..\\", "%2e%2e%2f", "%2e%2e/", "..%2f", "%252e%252e%252f", "%2e%2e%5c",
    "/etc/passwd", "/etc/shadow", "/etc/hosts", "%2fetc%2fpasswd", "/proc/self/",
    "file://", "php://", "zip://", "expect://", "data://", "win.ini", "boot.ini",
    "c:\\windows", "c:/windows",
)  # fmt: skip
"""Path-traversal and local-file-inclusion markers in the request (path and query)."""

SQLI_PATTERNS: tuple[str, ...] = (
    "union select", "union all select", "union%20select", "union%20all%20select",
    "union+select", "information_schema", "@@version", "%40%40version", "xp_cmdshell",
    "sleep(", "sleep%28", "pg_sleep", "benchmark(", "benchmark%28", "load_file",
    "' or '1'='1", "%27%20or%20%271%27%3d%271", "' or 1=1", "or%201=1", "%27%20or%201%3d1",
    "substring(", "substring%28", "char(", "char%28", ",null,null", "%2cnull%2cnull",
    "waitfor delay", "waitfor%20delay", "';--", "%27%3b--", "order by 1--",
)  # fmt: skip
"""SQL-injection probes in the query string (raw or URL-decoded)."""

XSS_PATTERNS: tuple[str, ...] = (
    "<script", "%3cscript", "<img", "%3cimg", "<svg", "%3csvg", "<iframe", "%3ciframe",
    "<body", "%3cbody", "<object", "%3cobject", "<embed", "%3cembed", "javascript:",
    "javascript%3a", "alert(", "alert%28", "prompt(", "prompt%28", "onerror=",
    "onerror%3d", "onload=", "onload%3d", "document.cookie",
)  # fmt: skip
"""Cross-site-scripting probes in the query string (raw or URL-decoded)."""
