"""Real-looking client settings files as users have them (comments, other settings, other
providers), for the config-writer tests."""

CLAUDE_SETTINGS = """{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "model": "opus",
  "permissions": {
    "allow": [
      "Bash(npm run test:*)",
      "Read(~/.zshrc)"
    ],
    "deny": [
      "Read(./.env)"
    ]
  },
  "env": {
    "CLAUDE_CODE_ENABLE_TELEMETRY": "0",
    "ANTHROPIC_API_KEY": "sk-ant-users-own-key"
  },
  "hooks": {
    "PostToolUse": [
      {"matcher": "Edit", "hooks": [{"type": "command", "command": "prettier --write"}]}
    ]
  }
}
"""

CODEX_CONFIG = """# Codex settings, edited by hand
model = "gpt-5-codex"   # my default
approval_policy = "on-request"
sandbox_mode = "workspace-write"

[profiles.deep]
model = "o3"
model_reasoning_effort = "high"

# local models for offline work
[model_providers.localai]
name = "LocalAI"
base_url = "http://localhost:8080/v1"

[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-mcp"]
"""

GEMINI_SETTINGS = """{
  // theme picked in /theme
  "ui": {
    "theme": "GitHub"
  },
  "security": {
    "auth": {
      "selectedType": "oauth-personal" /* the Google login I used before */
    }
  },
  "general": {
    "vimMode": true
  }
}
"""

GEMINI_ENV = """# keys for my scripts
OTHER_TOOL_TOKEN=abc123
export GEMINI_API_KEY=AIza-old-key   # from AI Studio
"""

OPENCODE_CONFIG = """{
  "$schema": "https://opencode.ai/config.json",
  // my providers
  "provider": {
    "anthropic": {
      "options": {"apiKey": "{env:ANTHROPIC_API_KEY}"}
    },
  },
  "model": "anthropic/claude-sonnet-4-5",
  "share": "manual",
  "permission": {"bash": {"rm -rf *": "deny", "git push*": "ask"}},
}
"""

OPENCODE_AUTH = """{
  "openrouter": {
    "type": "api",
    "key": "sk-or-users-own-key"
  }
}
"""

KILO_CONFIG = """{
  "$schema": "https://app.kilo.ai/config.json",
  /* set up by hand */
  "autoupdate": true,
  "mcp": {"docs": {"type": "local", "command": ["npx", "-y", "docs-mcp"]}}
}
"""
