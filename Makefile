.PHONY: demo test setup
setup:
	scripts/setup
demo:
	scripts/demo
test:
	scripts/test
