/* A shared object that is not a raqib plugin: it exports no descriptor. */
__attribute__((visibility("default"))) int not_a_plugin(void) { return 42; }
