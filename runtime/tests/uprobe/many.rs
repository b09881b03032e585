//! A generated C program with hundreds of functions of varied shapes (RIP-relative loads,
//! tail jumps, jump tables, nested calls), and the number of times each one runs, computed
//! from the same generation rule.

pub const FUNCTIONS: usize = 600;

fn kind(i: usize) -> usize {
    i % 6
}

fn reps(i: usize) -> u64 {
    1 + (i % 3) as u64
}

pub fn source() -> String {
    let mut c = String::from(
        "#include <stdio.h>\nvolatile long sink;\nlong g[8] = {3, 1, 4, 1, 5, 9, 2, 6};\n",
    );
    for i in 0..FUNCTIONS {
        c += &format!("long f_{i}(long x);\n");
    }
    for i in 0..FUNCTIONS {
        let body = match kind(i) {
            0 => format!("return x + g[{}];", i % 8),
            1 if i > 0 => format!("return f_{}(x) + 1;", i - 1),
            3 if i > 1 => format!("return f_{}(x ^ 5);", i - 2),
            4 => "sink += x; return 0;".to_string(),
            5 => "switch (x % 5) { case 0: return 1; case 1: return x; case 2: return -x; case 3: return x * x; default: return 7; }".to_string(),
            _ => "if (x & 1) return x * 3; return x / 2;".to_string(),
        };
        c += &format!("__attribute__((noipa)) long f_{i}(long x) {{ {body} }}\n");
    }
    c += "int main(int argc, char **argv) {\n  long acc = 0;\n";
    for i in 0..FUNCTIONS {
        c += &format!(
            "  for (long r = 0; r < {}; r++) acc += f_{i}(r + {i});\n",
            reps(i)
        );
    }
    c += "  FILE *out = fopen(argv[1], \"w\");\n  fprintf(out, \"acc %ld sink %ld\\n\", acc, sink);\n  fclose(out);\n  return 0;\n}\n";
    c
}

/// How many times `f_i` runs: its calls from `main`, plus one per call of each function that
/// calls it (`f_{i+1}` when that one is of kind 1, `f_{i+2}` when of kind 3).
pub fn expected_counts() -> Vec<u64> {
    let mut counts = vec![0u64; FUNCTIONS];
    for i in (0..FUNCTIONS).rev() {
        let mut n = reps(i);
        if i + 1 < FUNCTIONS && kind(i + 1) == 1 {
            n += counts[i + 1];
        }
        if i + 2 < FUNCTIONS && kind(i + 2) == 3 {
            n += counts[i + 2];
        }
        counts[i] = n;
    }
    counts
}
