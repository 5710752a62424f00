// Scaffolding.
int main() { return 0; }
