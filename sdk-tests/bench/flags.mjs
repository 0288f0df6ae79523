// The benchmark runners' command line: `--name value` pairs, as an object ({ name: 'value' }); anything else is
// ignored, and a flag given twice keeps its last value.
export function flags(argv = process.argv.slice(2)) {
  return Object.fromEntries(argv.reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]])
    return acc
  }, []))
}
