package loop

const childEnv = "LOOP_TEST_CHILD"

func runChild(mode string) int { return 2 }
