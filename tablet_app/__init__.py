"""The resident's tablet app (Kivy): check-in, help, messages, calls and agenda."""
